(ns tasklet.node-test
  "Distribution with several nodes in this JVM (fast): connect, auth, spawn-on
  over the wire, bad input, hostile peers, node monitors, the codec. Nodes of
  one JVM reach each other's pids directly (see tasklet.node), so messages,
  links and monitors across the wire are tested against a real child JVM in
  tasklet.node-child-test. Every wait is bounded; nothing sleeps."
  (:require [clojure.test :refer [deftest is testing use-fixtures]]
            [clojure.test.check.clojure-test :refer [defspec]]
            [clojure.test.check.generators :as gen]
            [clojure.test.check.properties :as prop]
            [tasklet.core :as t :refer [! receive self]]
            [tasklet.impl.codec :as codec]
            [tasklet.node :as node]
            [tasklet.node.helpers :as h])
  (:import (java.util.concurrent LinkedBlockingQueue TimeUnit)
           (tasklet.kernel Pid Ref)
           (tasklet.net Config Connection Endpoint Transport)))

(set! *warn-on-reflection* true)

(def ^:private cookie "node-test-cookie")

(defn- start [nm & {:as opts}]
  (node/start! (merge {:name nm :cookie cookie :default? false :workers 1 :tick-ms 200} opts)))

(defmacro ^:private with-nodes
  "Binds each name to a started in-JVM node and stops them all in `finally`."
  [bindings & body]
  (if (empty? bindings)
    `(do ~@body)
    (let [[sym expr & more] bindings]
      `(let [~sym ~expr]
         (try (with-nodes [~@more] ~@body)
              (finally (node/stop! ~sym)))))))

(defn- next-msg
  "The next message of the calling tasklet within 5 s, else :timeout."
  []
  (receive m m (after 5000 :timeout)))

;; ---------------------------------------------------------------------------
;; Connecting

;; connect! returns the peer's name; both sides list each other; self-node is
;; the node of the calling tasklet.
(deftest connect-and-list
  (with-nodes [a (start :nt-a) b (start :nt-b)]
    (is (= :nt-b (node/run-on a node/connect! (:address b))))
    (is (= [:nt-b] (node/run-on a node/nodes)))
    (is (= :nt-a (node/run-on a node/self-node)))
    (is (= :nt-b (node/run-on a node/connect! (:address b))) "connecting again is a no-op")
    ;; b lists a once the connection is open on b's side too (connect! waits for that)
    (is (= :nt-a (node/run-on b node/connect! (:address a))))
    (is (= [:nt-a] (node/run-on b node/nodes)))))

;; A wrong cookie: connect! throws :auth-failed and no connection is admitted
;; (so nothing from the intruder can be delivered: application frames flow
;; only on admitted connections, see tasklet.net); the node still serves a
;; right-cookie peer afterwards.
(deftest wrong-cookie
  (with-nodes [a (start :nt-a) m (start :nt-m :cookie "wrong")]
    (let [e (try (node/run-on m node/connect! (:address a)) nil
                 (catch clojure.lang.ExceptionInfo e e))]
      (is (= :auth-failed (:tasklet/error (ex-data e))))
      (is (= [] (node/run-on a node/nodes)))
      (is (= [] (node/run-on m node/nodes))))
    (with-nodes [b (start :nt-b)]
      (is (= :nt-a (node/run-on b node/connect! (:address a)))))))

;; connect! to a port nobody listens on: :not-connected.
(deftest connect-refused
  (with-nodes [a (start :nt-a)]
    (let [free (let [s (java.net.ServerSocket. 0)] (try (.getLocalPort s) (finally (.close s))))
          e (try (node/run-on a node/connect! (str "127.0.0.1:" free)) nil
                 (catch clojure.lang.ExceptionInfo e e))]
      (is (= :not-connected (:tasklet/error (ex-data e)))))))

;; ---------------------------------------------------------------------------
;; spawn-on over the wire

;; spawn-on by var and by symbol lands on the target node; the tasklet runs
;; there and answers the caller.
(deftest spawn-on-var-and-symbol
  (with-nodes [a (start :nt-a) b (start :nt-b)]
    (node/run-on a node/connect! (:address b))
    (node/run-on a
      (fn []
        (doseq [f [#'h/reply-self 'tasklet.node.helpers/reply-self]]
          (let [p (t/spawn-on :nt-b f (self) :hi)]
            (is (= "nt-b" (.-node ^Pid p)))
            (is (= [:hello p :hi] (next-msg)))
            (is (t/alive? p))
            (! p :stop)))))))

;; spawn-on of an unknown var, an unloadable namespace, a non-function, or a
;; fn value: :badarg on the caller, and nothing new runs on the target.
(deftest spawn-on-bad-input
  (with-nodes [a (start :nt-a) b (start :nt-b)]
    (node/run-on a node/connect! (:address b))
    (let [before (node/run-on b (fn [] (count (t/processes))))]
      (doseq [f ['tasklet.node.helpers/no-such-fn 'no.such.ns/f #'h/not-a-function
                 'unqualified (fn [] 1) 42]]
        (let [e (node/run-on a (fn [] (try (t/spawn-on :nt-b f) nil
                                           (catch clojure.lang.ExceptionInfo e e))))]
          (is (= :badarg (:tasklet/error (ex-data e))) (pr-str f))
          (is (seq (.getMessage ^Exception e)))))
      (is (= before (node/run-on b (fn [] (count (t/processes)))))))))

;; spawn-on an unconnected node with no known address: :not-connected.
(deftest spawn-on-unknown-node
  (with-nodes [a (start :nt-a)]
    (is (= :not-connected
           (node/run-on a (fn [] (try (t/spawn-on :nt-nowhere #'h/echo)
                                      (catch clojure.lang.ExceptionInfo e (:tasklet/error (ex-data e))))))))))

;; A node learns addresses from its peers (PEERS) and connects on demand.
(deftest auto-connect-via-learned-address
  (with-nodes [a (start :nt-a) b (start :nt-b) c (start :nt-c)]
    (node/run-on a node/connect! (:address b))
    (node/run-on b node/connect! (:address a))   ; b's side is open too: b knows a's address
    ;; b tells c the addresses it knows (PEERS) when they connect: a's among them
    (node/run-on b node/connect! (:address c))
    ;; wait until c has the connection open too, then a round trip c -> b:
    ;; b's PEERS frame came before the reply
    (node/run-on c node/connect! (:address b))
    (node/run-on c (fn [] (t/spawn-on :nt-b #'h/echo)))
    (let [p (node/run-on c (fn [] (t/spawn-on :nt-a #'h/echo)))]
      (is (= "nt-a" (.-node ^Pid p)))
      (is (some #{:nt-a} (node/run-on c node/nodes))))))

;; ---------------------------------------------------------------------------
;; Node monitors

;; monitor-node then disconnect!: [:nodedown n], one per monitor-node call;
;; an unreachable node gives [:nodedown n] at once; nodes is empty afterwards.
(deftest nodedown-on-disconnect
  (with-nodes [a (start :nt-a) b (start :nt-b)]
    (node/run-on a node/connect! (:address b))
    (node/run-on a
      (fn []
        (node/monitor-node :nt-b)
        (node/monitor-node :nt-b)
        (is (true? (node/disconnect! :nt-b)))
        (is (= [:nodedown :nt-b] (next-msg)))
        (is (= [:nodedown :nt-b] (next-msg)) "one message per monitor-node")
        (is (= :none (receive m m (after 0 :none))))
        (is (= [] (node/nodes)))
        (node/monitor-node :nt-nowhere)
        (is (= [:nodedown :nt-nowhere] (next-msg)))
        (is (false? (node/disconnect! :nt-b)))))))

;; ---------------------------------------------------------------------------
;; Hostile peers: a raw transport with the right cookie

(defn- raw-peer
  "A bare transport (right cookie) whose endpoint records into a queue."
  [nm]
  (let [q (LinkedBlockingQueue.)
        ep (reify Endpoint
             (connected [_ c] (.add q [:connected c]))
             (frame [_ c ty p] (.add q [:frame ty]))
             (disconnected [_ c r] (.add q [:disconnected r]))
             (load [_] 0))]
    {:q q :t (Transport/start (.build (Config/builder ^String nm ^String cookie)) ep)}))

(defn- await-kind [{:keys [^LinkedBlockingQueue q]} kind]
  (loop []
    (let [e (.poll q 5 TimeUnit/SECONDS)]
      (cond (nil? e) nil (= kind (first e)) e :else (recur)))))

;; An unknown frame type, a payload that does not thaw, a malformed frame: the
;; node closes that connection (with a logged reason) and keeps serving others.
(deftest bad-frames-close-only-that-connection
  (with-nodes [a (start :nt-a) b (start :nt-b)]
    (node/run-on a node/connect! (:address b))
    (doseq [[what ty ^bytes payload] [["unknown type" 0x7f (codec/encode [1 2] #{})]
                                      ["no thaw" 0x10 (byte-array [(byte 127) (byte -3) (byte 9)])]
                                      ["truncated nippy" 0x10 (let [b (codec/encode ["long string here" 1] #{})]
                                                                 (java.util.Arrays/copyOf b 5))]
                                      ["wrong shape" 0x10 (codec/encode {:not :a-vector} #{})]
                                      ["wrong shape link" 0x12 (codec/encode [1 2] #{})]]]
      (testing what
        (let [{:keys [^Transport t] :as raw} (raw-peer "nt-raw")]
          (try
            (let [^Connection c (.get (.connect t (:address a)) 5 TimeUnit/SECONDS)]
              (is (await-kind raw :connected))
              (.send c (int ty) payload)
              (is (await-kind raw :disconnected) "the node closed the connection"))
            (finally (.close t))))))
    (testing "the node still serves its other peer"
      (is (= [:nt-b] (node/run-on a node/nodes)))
      (let [p (node/run-on a (fn [] (t/spawn-on :nt-b #'h/echo)))]
        (is (node/run-on a (fn [] (t/alive? p))))))))

;; ---------------------------------------------------------------------------
;; The codec

(def ^:private gen-pid
  (gen/fmap (fn [[n s i]] (Pid. n s i))
            (gen/tuple (gen/elements ["a" "beta" "nt-x"]) gen/large-integer gen/large-integer)))

(def ^:private gen-ref
  (gen/fmap (fn [[n s i]] (Ref. n s i))
            (gen/tuple (gen/elements ["a" "beta"]) gen/large-integer gen/large-integer)))

(def gen-term
  "Random nested Clojure data with pids and refs (no NaN: it is not = to itself)."
  (gen/recursive-gen
    (fn [inner] (gen/one-of [(gen/vector inner) (gen/list inner) (gen/set inner)
                             (gen/map inner inner) (gen/tuple inner inner)]))
    (gen/one-of [gen/small-integer gen/large-integer (gen/double* {:NaN? false}) gen/string
                 gen/keyword gen/keyword-ns gen/symbol gen/boolean (gen/return nil) gen/ratio
                 gen/uuid gen/char gen-pid gen-ref])))

;; Any such term survives encode/decode unchanged (the remote echo of the same
;; property runs in tasklet.node-child-test).
(defspec codec-round-trip 200
  (prop/for-all [x gen-term]
    (= x (codec/decode (codec/encode x #{}) #{}))))

;; A Throwable crosses as an ex-info with the class name, message, data, cause.
(deftest throwables-cross-as-ex-info
  (let [e (ex-info "outer" {:k 1} (ArithmeticException. "inner"))
        back (codec/decode (codec/encode [e] #{}) #{})
        [^Throwable x] back]
    (is (instance? clojure.lang.ExceptionInfo x))
    (is (= {:k 1 :tasklet/class "clojure.lang.ExceptionInfo"} (ex-data x)))
    (is (= "outer" (.getMessage x)))
    (is (= "java.lang.ArithmeticException" (:tasklet/class (ex-data (.getCause x)))))
    (is (= "inner" (.getMessage (.getCause x))))
    (is (pos? (count (.getStackTrace x))))))

;; Unfreezable values throw :unserializable; Java-serialized classes are
;; refused unless allow-listed.
(deftest unserializable-and-allowlist
  (doseq [x [(atom 1) (fn [] 1) (Object.) (java.util.concurrent.Semaphore. 1)]]
    (is (= :unserializable (try (codec/encode [x] #{}) nil
                                (catch clojure.lang.ExceptionInfo e (:tasklet/error (ex-data e)))))
        (str (class x))))
  (let [x (java.util.concurrent.atomic.AtomicInteger. 5)   ; Serializable, not native to Nippy
        b (codec/encode x #{"java.util.concurrent.atomic.AtomicInteger"})]
    (is (= 5 (.get ^java.util.concurrent.atomic.AtomicInteger
                   (codec/decode b #{"java.util.concurrent.atomic.AtomicInteger"}))))
    (is (contains? (codec/decode b #{}) :nippy/unthawable) "refused (quarantined) when not allow-listed")))

;; ---------------------------------------------------------------------------
;; Back-pressure

(defn- used-memory
  "[heap-bytes-after-gc netty-direct-bytes]."
  []
  (System/gc)
  (let [rt (Runtime/getRuntime)]
    [(- (.totalMemory rt) (.freeMemory rt))
     (io.netty.util.internal.PlatformDependent/usedDirectMemory)]))

;; 2 GB of 1 MB messages to a peer that reads slowly: the sending tasklet waits
;; while the connection is above its high-water mark, so neither the heap nor
;; Netty's direct memory grows with what was sent. (The slow reader sleeps in
;; its frame callback to simulate a slow consumer, not to synchronise.)
(deftest ^:stress back-pressure-bounds-memory
  (with-nodes [a (start :nt-a)]
    (let [q (LinkedBlockingQueue.)
          ep (reify Endpoint
               (connected [_ c] (.add q c))
               (frame [_ c ty p] (Thread/sleep 1))
               (disconnected [_ c r] nil)
               (load [_] 0))
          raw (Transport/start (.build (Config/builder "nt-slow" ^String cookie)) ep)]
      (try
        (.get (.connect raw ^String (:address a)) 5 TimeUnit/SECONDS)
        (let [target (Pid. "nt-slow" 1 (.incarnation raw))
              n 2048
              chunk (byte-array (* 1024 1024))
              peak (atom [0 0])
              baseline (used-memory)]
          (node/run-on a
            (fn []
              (dotimes [i n]
                (! target chunk)
                (when (zero? (mod i 128))
                  (swap! peak (fn [[h d]] (let [[h2 d2] (used-memory)] [(max h h2) (max d d2)])))))))
          (let [[h d] @peak]
            (println "back-pressure: baseline" baseline "peak heap" h "peak direct" d)
            (is (< (- h (first baseline)) (* 256 1024 1024)))
            (is (< d (* 256 1024 1024)))))
        (finally (.close raw))))))
