(ns tasklet.net.thaw-test
  "Issue #12, point 4: the payloads of the issue, thawed by tasklet.impl.codec/decode:
  each is refused (it throws, so the node closes the connection) without instantiating
  an unlisted class, initialising a named class or allocating more than the payload."
  (:require [clojure.test :refer [deftest is testing]]
            [taoensso.nippy :as nippy]
            [tasklet.core]
            [tasklet.impl.codec :as codec])
  (:import (java.lang.management ManagementFactory)))

(set! *warn-on-reflection* true)

(defn- id [sym] (long @(ns-resolve 'taoensso.nippy sym)))

(defn- refusal
  "The message of the refusal decode throws for payload b (somewhere in the cause
  chain, with :tasklet/error :refused-payload), or [:thawed value] if it thaws."
  [^bytes b allowlist]
  (try [:thawed (codec/decode b allowlist)]
       (catch Exception e
         (or (some (fn [^Throwable c] (when (= :refused-payload (:tasklet/error (ex-data c))) (.getMessage c)))
                   (take 8 (take-while some? (iterate #(.getCause ^Throwable %) e))))
             [:other-error (str e)]))))

(defn- allocated-bytes
  "Bytes the calling thread allocated while running f."
  [f]
  (let [^com.sun.management.ThreadMXBean mx (ManagementFactory/getThreadMXBean)
        t (.getId (Thread/currentThread))
        before (.getThreadAllocatedBytes mx t)]
    (f)
    (- (.getThreadAllocatedBytes mx t) before)))

(defrecord Point [x y])

;; An allowed class name (HashMap) in front of a graph that holds an unlisted class
;; (java.io.File): the JDK filter refuses the graph. The old check looked only at the
;; name in the payload, and a File arrived.
(deftest serializable-graph-is-filtered
  (let [m (doto (java.util.HashMap.) (.put "f" (java.io.File. "/etc/passwd")))
        b (binding [nippy/*freeze-serializable-allowlist* #{"java.util.HashMap" "java.io.File"}]
            (nippy/fast-freeze m))]
    (is (re-find #"outside the :serializable-allowlist" (str (refusal b #{"java.util.HashMap"}))))
    (is (= [:thawed {"f" (java.io.File. "/etc/passwd")}]
           (update (refusal b #{"java.util.HashMap" "java.io.File"}) 1 #(into {} %)))
        "with both allow-listed it thaws"))
  (testing "an allowed name claimed for another class"
    (let [al (java.util.concurrent.atomic.AtomicLong. 7)
          b (binding [nippy/*freeze-serializable-allowlist* #{"java.util.concurrent.atomic.AtomicLong"}]
              (nippy/fast-freeze al))
          real (.getBytes "java.util.concurrent.atomic.AtomicLong" "UTF-8")
          idx (loop [i 0] (if (java.util.Arrays/equals (java.util.Arrays/copyOfRange b i (+ i (alength real))) real) i (recur (inc i))))
          ;; same length, another allowed name
          fake (.getBytes "java.util.concurrent.atomic.AtomicBool" "UTF-8")
          forged (byte-array (concat (take idx b) fake (drop (+ idx (alength real)) b)))]
      (is (string? (refusal forged #{"java.util.concurrent.atomic.AtomicBool"}))
          "the graph's own class is not on the list"))))

;; A record naming a class that is no record (a namespace's __init class) is refused
;; before the class is initialised, so the namespace is not loaded; a real record thaws.
(deftest records-thaw-only-as-records
  (let [nb (.getBytes "clojure.test.junit__init" "UTF-8")
        p (byte-array (concat [(id 'id-record-sm) (alength nb)] nb (nippy/fast-freeze {})))]
    (is (nil? (find-ns 'clojure.test.junit)) "precondition: not loaded yet")
    (is (re-find #"no Clojure record" (str (refusal p #{}))))
    (is (nil? (find-ns 'clojure.test.junit)) "its namespace was not loaded"))
  (is (= [:thawed (->Point 1 2)] (refusal (codec/encode (->Point 1 2) #{}) #{})))
  (let [nb (.getBytes "tasklet.net.thaw_test.NoSuchRecord" "UTF-8")
        p (byte-array (concat [(id 'id-record-sm) (alength nb)] nb (nippy/fast-freeze {:a 1})))]
    (is (= :record (get-in (second (refusal p #{})) [:nippy/unthawable :type]))
        "an unknown record class quarantines, as before")))

;; Six bytes that claim a 2 GiB byte array or object array: refused, and the thaw
;; allocates next to nothing (the old thaw allocated the 2 GiB first).
(deftest no-allocation-beyond-the-payload
  (doseq [[what type-id] [["bytes" (id 'id-bytes-lg)] ["objects" (id 'id-objects-lg)]]]
    (testing what
      (let [p (byte-array [type-id 127 -1 -1 -1 0])
            r (atom nil)
            n (allocated-bytes #(reset! r (refusal p #{})))]
        (is (re-find #"of 2147483647 in a payload of 6 bytes" (str @r)) (str @r))
        (is (< n (* 4 1024 1024)) (str n " bytes allocated"))))))

;; Ordinary values still cross unchanged.
(deftest plain-values-round-trip
  (let [v [1 "x" {:a #{1 2}} (java.util.UUID/fromString "ebf033d2-9de0-40dd-99aa-9ae8392db52f")
           #inst "2020-01-01" [(->Point 1 [2])] 'sym 1.5M]]
    (is (= (pr-str v) (pr-str (codec/decode (codec/encode v #{}) #{}))))))

;; A reader literal in a payload (Nippy's :reader-sm type) is read with Clojure's default
;; readers only: a data reader this node has (here #tasklet/pid, bound as data_readers.clj
;; binds it) is not run for a peer's bytes, while outside decode Nippy reads it as before.
(deftest reader-literals-run-no-classpath-readers
  (let [edn (.getBytes "#tasklet/pid [:x 1 1]" "UTF-8")
        b (byte-array (concat [(id 'id-reader-sm) (count edn)] edn))]
    (binding [*data-readers* {'tasklet/pid #'tasklet.core/read-pid}]
      (let [[tag v] (refusal b #{})]
        (is (= :thawed tag))
        (is (not (instance? tasklet.kernel.Pid v)) (str "decode ran this node's reader: " (pr-str v)))
        (is (= :reader (get-in v [:nippy/unthawable :type])) (pr-str v)))
      (testing "Nippy outside decode is left alone"
        (is (instance? tasklet.kernel.Pid (nippy/fast-thaw b)))))
    (testing "#inst, a default reader, still reads"
      (let [e (.getBytes "#inst \"2026-12-03T00:00:00Z\"" "UTF-8")]
        (is (inst? (codec/decode (byte-array (concat [(id 'id-reader-sm) (count e)] e)) #{})))))))
