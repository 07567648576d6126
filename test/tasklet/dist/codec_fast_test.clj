(ns tasklet.dist.codec-fast-test
  "The codec's fast path (tasklet.impl.codec writes and reads the common terms
  itself, on PayloadOutput / PayloadInput): byte for byte what Nippy's
  fast-freeze writes, thawed the same both ways (a peer running plain Nippy
  understands it and it understands the peer), and a hostile count refused
  before anything is allocated for it."
  (:require [clojure.test :refer [deftest is testing]]
            [clojure.test.check.clojure-test :refer [defspec]]
            [clojure.test.check.generators :as gen]
            [clojure.test.check.properties :as prop]
            [taoensso.nippy :as nippy]
            [tasklet.impl.codec :as codec]
            [tasklet.node-test :as nt])
  (:import [java.util Arrays]
           [tasklet.dist PayloadInput PayloadOutput]
           [tasklet.kernel Pid Ref]))

(set! *warn-on-reflection* true)

(defn- refused [^bytes b]
  (try (codec/decode b #{}) :thawed
       (catch Throwable e (or (:tasklet/error (ex-data e)) (class e)))))

;; Whatever the term (fast-path values, Nippy's others inside them, deep
;; nesting handed to Nippy whole), encode writes exactly Nippy's bytes, and
;; each side thaws the other's.
(defspec encode-writes-nippys-bytes 300
  (prop/for-all [x nt/gen-term]
    (let [ours (codec/encode x #{})
          theirs (nippy/fast-freeze x)]
      (and (Arrays/equals ours theirs)
           (= x (codec/decode theirs #{}))
           (= x (nippy/fast-thaw ours))))))

(deftest longs-at-every-size-boundary
  (testing "each edge of the byte, short and int sizes is Nippy's bytes, and thaws back"
    (doseq [n [0 1 -1 127 128 -128 -129 32767 32768 -32768 -32769
               2147483647 2147483648 -2147483648 -2147483649 Long/MAX_VALUE Long/MIN_VALUE]]
      (is (Arrays/equals ^bytes (codec/encode n #{}) ^bytes (nippy/fast-freeze n)) (str n))
      (is (= n (codec/decode (codec/encode n #{}) #{})) (str n)))))

(deftest fields-are-a-vector
  (let [p (Pid. "n" 3 4)]
    (is (Arrays/equals ^bytes (codec/encode [p [:msg 1]] #{})
                       ^bytes (codec/encode-fields (object-array [p [:msg 1]]) #{})))
    (is (= [p [:msg 1]] (codec/decode (codec/encode-fields (object-array [p [:msg 1]]) #{}) #{})))))

(deftest deep-and-large-terms
  (let [deep (reduce (fn [v _] [v]) :bottom (range 300))
        wide (vec (range 40000))
        text (apply str (repeat 5000 "héllo "))]
    (doseq [x [deep wide text (keyword (subs text 0 600)) (symbol "ns" (subs text 0 700)) (set wide) (zipmap wide wide) (with-meta [1 2] {:m 1})
               (Ref. "r" -1 Integer/MIN_VALUE) (Pid. "p" Long/MAX_VALUE Integer/MAX_VALUE) -0.0 Long/MIN_VALUE Long/MAX_VALUE]]
      (is (Arrays/equals ^bytes (codec/encode x #{}) ^bytes (nippy/fast-freeze x)))
      (is (= x (codec/decode (codec/encode x #{}) #{}))))
    (is (= {:m 1} (meta (codec/decode (codec/encode (with-meta [1 2] {:m 1}) #{}) #{}))))))

;; A count or length larger than the bytes left is refused before the array
;; is made; so is a negative one and a payload that ends early.
(deftest hostile-counts
  (doseq [[what bytes] [["vec-lg of 2^31-1" [21 0x7f -1 -1 -1 3]]
                        ["map-lg of 2^30" [30 0x40 0 0 0 3 3]]
                        ["set-md of 30000" [32 0x75 0x30 3]]
                        ["str-lg of 1 GiB" [13 0x40 0 0 0 65]]
                        ["negative vec-sm" [110 -3 3 3 3]]
                        ["keyword longer than the payload" [106 100 65 65]]]]
    (testing what
      (is (= :refused-payload (refused (byte-array bytes))))))
  (is (= :refused-payload (refused (byte-array [113 3]))) "a vector cut short")
  (is (= java.io.EOFException (refused (byte-array [113 3 43 0 0]))) "a long cut short")
  (is (= java.io.EOFException (refused (byte-array [82]))) "a custom type cut short")
  (let [^bytes pid (codec/encode (Pid. "p" 1 -7) #{})]
    (is (= (Pid. "p" 1 -7) (codec/decode pid #{})) "a pid's incarnation is its last 4 bytes")
    (is (= java.io.EOFException (refused (Arrays/copyOf pid (- (alength pid) 1))))
        "a pid whose incarnation is cut short")))

(deftest payload-streams
  (let [o (PayloadOutput. 1)]
    (.writeUTF o "nöde\u0000x")
    (.writeLong o -2)
    (.writeShort o 0xBEEF)
    (let [in (PayloadInput. (.toByteArray o))]
      (is (= "nöde\u0000x" (.readUTF in)))
      (is (= -2 (.readLong in)))
      (is (= (unchecked-short 0xBEEF) (.readShort in)))
      (is (zero? (.remaining in)))
      (is (thrown? java.io.EOFException (.readByte in))))
    (let [b (java.io.ByteArrayOutputStream.)]
      (.writeUTF (java.io.DataOutputStream. b) "nöde\u0000x")
      (is (= "nöde\u0000x" (.readUTF (PayloadInput. (.toByteArray b)))) "as DataOutputStream writes it"))))
