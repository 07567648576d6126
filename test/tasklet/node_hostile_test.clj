(ns tasklet.node-hostile-test
  "Issue #12: the attacks on distribution, each played against real nodes on
  127.0.0.1 (in this JVM): a relay between two honest nodes, a flood of
  unauthenticated connections, a second node claiming a live name, a peer
  speaking for another node, spawn-on outside the allow-list, weak and
  missing cookies. Every wait is bounded; nothing sleeps for synchronisation."
  (:require [clojure.test :refer [deftest is testing]]
            [tasklet.core :as t]
            [tasklet.impl.codec :as codec]
            [tasklet.impl.dist :as dist]
            [tasklet.net.support :as s]
            [tasklet.node :as node]
            [tasklet.node.helpers :as h :refer [with-nodes]])
  (:import (java.io DataInputStream DataOutputStream EOFException IOException)
           (java.net InetSocketAddress Socket SocketTimeoutException)
           (java.nio.file Files LinkOption Path)
           (java.nio.file.attribute PosixFilePermissions)
           (java.util.concurrent LinkedBlockingQueue TimeUnit)
           (java.util.logging Handler Level Logger LogRecord)
           (tasklet.kernel Pid)
           (tasklet.net Config Connection Endpoint FrameType Handshake Handshake$Hello Transport)))

(set! *warn-on-reflection* true)

(def ^:private cookie "node-hostile-test-cookie-0123456789")

(defn- start [nm & {:as opts}] (h/start-node cookie nm opts))

(defn- port-of [n] (Long/parseLong (second (re-find #":(\d+)$" (:address n)))))

(defn- raw-socket
  "A socket to node n's port, with a read timeout of ms."
  ^Socket [n ms]
  (doto (Socket.)
    (.connect (InetSocketAddress. "127.0.0.1" (int (port-of n))) 2000)
    (.setSoTimeout (int ms))))

(defn- frames-until-close
  "The [type payload] frames read from in until EOF, a reset, or ms without a byte."
  [^DataInputStream in]
  (loop [out []]
    (let [f (try (s/read-frame in)
                 (catch EOFException _ nil)
                 (catch SocketTimeoutException _ nil)
                 (catch IOException _ nil))]
      (if f (recur (conj out f)) out))))

(defn- connection-to
  "Node n's open connection to the node called peer, waiting up to 5 s for it
  (the accepting side lists it a moment after the connecting side), or nil."
  ^Connection [n peer]
  (let [deadline (+ (System/currentTimeMillis) 5000)]
    (loop []
      (or (some-> (dist/state-of (:node n)) (dist/connection (name peer)))
          (when (< (System/currentTimeMillis) deadline)
            (Thread/sleep 5)
            (recur))))))

;; ---------------------------------------------------------------------------
;; 1. The relay between two honest nodes

;; The attack of the issue: connect to beta claiming to be alpha, and to alpha
;; claiming to be beta (a new incarnation), hand each one the other's HELLO
;; nonce and relay whatever proofs come back. On the old protocol each node
;; answered a HELLO with its proof at once, so beta signed what alpha checks
;; and alpha admitted the relay as beta (dropping the real beta as
;; "restarted"). Now the accepting side proves only after the connecting side
;; has: neither socket ever gets a PROOF, both are closed, and alpha and beta
;; keep their own connection.
(deftest relay-between-two-honest-nodes-is-refused
  (with-nodes [a (start :nh-alpha :handshake-timeout-ms 1500) b (start :nh-beta :handshake-timeout-ms 1500)]
    (node/run-on a node/connect! (:address b))
    (let [inc-a (.peerIncarnation (connection-to b :nh-alpha))
          inc-b (.peerIncarnation (connection-to a :nh-beta))]
      (with-open [to-a (raw-socket a 3000)
                  to-b (raw-socket b 3000)]
        (let [in-a (DataInputStream. (.getInputStream to-a))
              in-b (DataInputStream. (.getInputStream to-b))
              out-a (DataOutputStream. (.getOutputStream to-a))
              out-b (DataOutputStream. (.getOutputStream to-b))
              [ta hello-a] (s/read-frame in-a)
              [tb hello-b] (s/read-frame in-b)
              nonce-a (.nonce (Handshake$Hello/decode hello-a))
              nonce-b (.nonce (Handshake$Hello/decode hello-b))]
          (is (= [FrameType/HELLO FrameType/HELLO] [ta tb]))
          ;; to beta: "I am alpha", with alpha's nonce; to alpha: "I am beta (restarted)"
          (.write out-b (s/hello-bytes "nh-alpha" inc-a "127.0.0.1:1" nonce-a))
          (.write out-a (s/hello-bytes "nh-beta" (if (== inc-b 7) 8 7) "127.0.0.1:1" nonce-b))
          (.flush out-a)
          (.flush out-b)
          ;; relay: whatever beta sends goes to alpha and back, until both hang up
          (let [relay (fn [^DataInputStream from ^DataOutputStream to]
                        (future
                          (loop [seen []]
                            (let [f (try (s/read-frame from) (catch Exception _ nil))]
                              (if-not f
                                seen
                                (let [[ty p] f]
                                  (try (.write to (s/frame-bytes ty p)) (.flush to) (catch IOException _))
                                  (recur (conj seen ty))))))))
                from-b (relay in-b out-a)
                from-a (relay in-a out-b)
                seen-b (deref from-b 5000 :hung)
                seen-a (deref from-a 5000 :hung)]
            (is (not-any? #{FrameType/PROOF FrameType/ACCEPT} seen-b) (str "beta sent " seen-b))
            (is (not-any? #{FrameType/PROOF FrameType/ACCEPT} seen-a) (str "alpha sent " seen-a))
            (is (not= :hung seen-a) "alpha closed the impostor's connection")
            (is (not= :hung seen-b) "beta closed the impostor's connection")))))
    (testing "the honest nodes keep their own connection"
      (is (= [:nh-beta] (node/run-on a node/nodes)))
      (is (= [:nh-alpha] (node/run-on b node/nodes)))
      (is (= (.incarnation (dist/transport (dist/state-of (:node b))))
             (.peerIncarnation (connection-to a :nh-beta)))))))

;; ---------------------------------------------------------------------------
;; 2. Before authentication

(defn- used-direct-bytes []
  (io.netty.util.internal.PlatformDependent/usedDirectMemory))

(defn- live-heap-bytes
  "Heap in use after a full collection."
  []
  (System/gc)
  (let [rt (Runtime/getRuntime)] (- (.totalMemory rt) (.freeMemory rt))))

;; 1,000 silent connections and 50 that announce a 60 MiB frame and start
;; sending it: each oversized one is closed from its header (the old bound
;; was 64 MiB, so the node buffered every byte), at most 16 connections from
;; one address (64 in all) wait in the handshake and the rest are closed at
;; once, so heap and direct memory stay bounded; the refusals cost a bounded
;; number of log lines; meanwhile the node's real peer keeps its connection,
;; heartbeats included (a 5 s heartbeat timeout, half the default: room for
;; the full collections the test makes to measure the heap).
(deftest flood-of-unauthenticated-connections
  (with-nodes [a (start :nh-a :heartbeat-timeout-ms 5000)
               b (start :nh-b :heartbeat-timeout-ms 5000)]
    (node/run-on a node/connect! (:address b))
    (let [^Transport ta (dist/transport (dist/state-of (:node a)))
          lines (java.util.concurrent.atomic.AtomicLong.)
          counter (proxy [Handler] []
                    (publish [^LogRecord r] (.incrementAndGet lines))
                    (flush [])
                    (close []))
          _ (.addHandler (Logger/getLogger "tasklet.net") counter)
          direct0 (used-direct-bytes)
          heap0 (live-heap-bytes)
          silent (vec (for [_ (range 1000)]
                        (try (raw-socket a 2000) (catch IOException _ nil))))
          chunk (byte-array (* 64 1024))
          oversized (vec (for [_ (range 50)]
                           (future
                             (with-open [sock (raw-socket a 2000)]
                               (let [out (.getOutputStream sock)
                                     t0 (System/nanoTime)]
                                 (try
                                   (.write out (s/int-bytes (* 60 1024 1024)))
                                   (.write out (byte-array [0x10]))
                                   (dotimes [_ 16] (.write out chunk))   ; 1 MiB of the body
                                   ;; the node hangs up: reading ends (EOF or a reset)
                                   (let [in (.getInputStream sock)]
                                     (loop [] (when (not= -1 (.read in)) (recur))))
                                   (catch IOException _))
                                 (/ (- (System/nanoTime) t0) 1e6))))))]
      (try
        (let [closed-in (mapv #(deref % 10000 :hung) oversized)]
          (is (not-any? #{:hung} closed-in) "every oversized connection was closed")
          (is (every? #(and (number? %) (< % 2000)) closed-in) (str "closed after (ms) " (sort closed-in))))
        (is (<= (.pendingHandshakes ta) 16) (str (.pendingHandshakes ta) " in the handshake"))
        (let [refused (count (filter (fn [^Socket sock]
                                       (or (nil? sock)
                                           (try (= -1 (.read (.getInputStream sock)))
                                                (catch SocketTimeoutException _ false)
                                                (catch IOException _ true))))
                                     (take 100 (drop 900 silent))))]
          (is (< 90 refused) (str refused " of the last 100 silent connections were closed at once")))
        (let [direct (- (used-direct-bytes) direct0)]
          (is (< direct (* 32 1024 1024)) (str "direct memory grew by " direct " bytes")))
        (let [heap (- (live-heap-bytes) heap0)]
          (is (< heap (* 128 1024 1024)) (str "the live heap grew by " heap " bytes")))
        (testing "the real peer stays connected and is heard"
          (let [^Connection c (connection-to a :nh-b)
                reports (.peerLoadReports c)]
            (is (.isOpen c))
            (is (= [:nh-b] (node/run-on a node/nodes)))
            (is (= :later (loop [n 0]
                            (cond (> (.peerLoadReports c) reports) :later
                                  (> n 300) :never
                                  :else (do (Thread/sleep 10) (recur (inc n))))))
                "a heartbeat arrived after the flood")))
        (is (<= (.get lines) 25) (str (.get lines) " log lines for about 1,000 refusals (rate-limited)"))
        (finally
          (.removeHandler (Logger/getLogger "tasklet.net") counter)
          (doseq [^Socket sock silent :when sock] (.close sock)))))))

;; ---------------------------------------------------------------------------
;; 8. A peer speaks only for itself

(defn- bare-peer
  "A bare transport called nm with the test cookie (incarnation inc when
  given), and a queue of its [:connected c] / [:disconnected c reason] events."
  [nm & {:keys [incarnation tick-ms handshake-ms]}]
  (let [events (LinkedBlockingQueue.)
        ep (reify Endpoint
             (connected [_ c] (.add events [:connected c]))
             (frame [_ c ty p] (.add events [:frame c ty p]))
             (disconnected [_ c r] (.add events [:disconnected c r]))
             (load [_] 0))
        b (doto (Config/builder ^String nm ^String cookie) (.tickMs (long (or tick-ms 100))))]
    (when incarnation (.incarnation b (int incarnation)))
    (when handshake-ms (.handshakeTimeoutMs b (long handshake-ms)))
    {:events events :t (Transport/start (.build b) ep)}))

(defn- await-kind [{:keys [^LinkedBlockingQueue events]} kind]
  (loop []
    (let [e (.poll events 5 TimeUnit/SECONDS)]
      (cond (nil? e) nil (= kind (first e)) e :else (recur)))))

;; A second node claiming the name of a connected, live node is refused, and
;; the live one keeps its connection (the old code displaced it as
;; "restarted").
(deftest duplicate-live-name-is-refused
  (with-nodes [a (start :nh-a)]
    (let [live (bare-peer "nh-live")
          ^Transport lt (:t live)]
      (try
        (node/run-on a node/connect! (.address lt))
        (let [{:keys [^Transport t]} (bare-peer "nh-live" :incarnation 7 :handshake-ms 1500)]
          (try
            (let [[k e] (s/outcome (.connect t (:address a)) 8000)]
              (is (= :error k))
              (is (re-find #"a live node of that name" (str e)) (str e)))
            (finally (.close t))))
        (is (= [:nh-live] (node/run-on a node/nodes)))
        (is (= (.incarnation lt) (.peerIncarnation (connection-to a :nh-live))))
        (finally (.close lt))))))

;; A LINK, EXIT or MONITOR "from" a pid of another node, or a REPLY to a
;; request never sent to that peer, closes that peer's connection (logged);
;; the node's other peer is not affected.
(deftest forged-senders-close-the-connection
  (with-nodes [a (start :nh-a) b (start :nh-b)]
    (node/run-on a node/connect! (:address b))
    (let [victim (node/run-on a (fn [] (t/spawn h/wait-forever)))
          b-pid (node/run-on b (fn [] (t/spawn h/wait-forever)))]
      (doseq [[what ty v] [["LINK" dist/LINK [b-pid victim]]
                           ["EXIT" dist/EXIT [b-pid victim :kill false]]
                           ["MONITOR" dist/MONITOR [b-pid (tasklet.kernel.Ref. "nh-b" 1 1) victim]]
                           ["REPLY" dist/REPLY [123456789 victim :ok :forged]]]]
        (testing what
          (let [{:keys [^Transport t] :as raw} (bare-peer "nh-raw")]
            (try
              (let [^Connection c (.get (.connect t (:address a)) 5 TimeUnit/SECONDS)]
                (await-kind raw :connected)
                (.send c (int ty) (codec/encode v #{}))
                (let [[k _ reason] (await-kind raw :disconnected)]
                  (is (= :disconnected k))
                  (is (re-find #"not of node nh-raw|not sent to node nh-raw|closed by peer" (str reason))
                      (str reason))))
              (finally (.close t))))))
      (is (node/run-on a (fn [] (t/alive? victim))) "the forged EXIT did not kill it")
      (is (= [:nh-b] (node/run-on a node/nodes))))))

;; ---------------------------------------------------------------------------
;; 3. spawn-on trust

;; With :spawn-allowlist a peer may spawn only the listed vars or vars of the
;; listed namespaces (load-string, the code-execution of the issue, is
;; refused with :not-allowed); with :spawn-require? false it cannot make the
;; node load a namespace. The node's own spawn-on is not limited.
(deftest spawn-allowlist-and-require
  (with-nodes [a (start :nh-a :spawn-allowlist #{'tasklet.node.helpers/echo 'tasklet.core}
                        :spawn-require? false)
               b (start :nh-b)]
    (node/run-on b node/connect! (:address a))
    (let [spawn (fn [sym & args]
                  (node/run-on b (fn [] (try (apply t/spawn-on :nh-a sym args)
                                             (catch clojure.lang.ExceptionInfo e (:tasklet/error (ex-data e)))))))]
      (is (= :not-allowed (spawn 'clojure.core/load-string "(+ 1 2)")))
      (is (instance? Pid (spawn 'tasklet.node.helpers/echo)))
      (is (= :not-allowed (spawn 'tasklet.node.helpers/wait-forever)) "not listed")
      (is (instance? Pid (spawn 'tasklet.core/self)) "a listed namespace")
      (is (nil? (find-ns 'clojure.test.tap)) "precondition: no test loads it")
      (with-nodes [c (start :nh-c :spawn-allowlist #{'clojure.test} :spawn-require? false)]
        (node/run-on b node/connect! (:address c))
        (is (= :not-allowed (node/run-on b (fn [] (try (t/spawn-on :nh-c 'clojure.test.tap/print-tap-plan 1)
                                                       (catch clojure.lang.ExceptionInfo e
                                                         (:tasklet/error (ex-data e))))))))
        (is (nil? (find-ns 'clojure.test.tap)) "the namespace was not loaded")))))

;; ---------------------------------------------------------------------------
;; 1. Cookies

(defn- captured-warnings
  "Runs f with a handler on the tasklet.node logger; returns the WARNING texts."
  [f]
  (let [got (LinkedBlockingQueue.)
        h (proxy [Handler] []
            (publish [^LogRecord r] (when (= Level/WARNING (.getLevel r)) (.add got (.getMessage r))))
            (flush [])
            (close []))
        l (Logger/getLogger "tasklet.node")]
    (.addHandler l h)
    (try (f) (finally (.removeHandler l h)))
    (vec got)))

;; A short cookie is logged as weak; a long random one is not.
(deftest weak-cookie-warning
  (let [ws (captured-warnings #(node/stop! (h/start-node "secret" :nh-weak {})))]
    (is (some (fn [w] (re-find #"cookie of node :nh-weak is weak" w)) ws) (pr-str ws)))
  (let [ws (captured-warnings #(node/stop! (h/start-node cookie :nh-strong {})))]
    (is (not-any? (fn [w] (re-find #"is weak" w)) ws) (pr-str ws))))

;; Without :cookie the node uses :cookie-file, made on first use with a random
;; cookie, owner-only; the same file gives the same cookie (two nodes using it
;; connect); a file others may read is refused.
(deftest cookie-file
  (let [dir (s/temp-dir "tasklet-cookie")
        f (str dir "/cookie")
        path (.toPath (java.io.File. f))]
    (try
      (with-nodes [a (node/start! {:name :nh-fa :cookie-file f :default? false :workers 1})
                   b (node/start! {:name :nh-fb :cookie-file f :default? false :workers 1})]
        (is (= "rw-------" (PosixFilePermissions/toString
                             (Files/getPosixFilePermissions path (make-array LinkOption 0)))))
        (is (<= 40 (count (.trim ^String (slurp f)))))
        (is (= :nh-fb (node/run-on a node/connect! (:address b)))))
      (Files/setPosixFilePermissions path (PosixFilePermissions/fromString "rw-r--r--"))
      (is (= :badarg (try (node/start! {:name :nh-fc :cookie-file f :default? false :workers 1})
                          (catch clojure.lang.ExceptionInfo e (:tasklet/error (ex-data e))))))
      (finally (s/delete-tree dir)))))

;; ---------------------------------------------------------------------------
;; 4. Thaw

(defn- splice
  "Frozen [pid hostile]: the frozen vector [pid :zz-slot] with the slot's bytes
  replaced by the raw bytes hostile (a well-shaped SEND around a hostile value)."
  ^bytes [pid ^bytes hostile]
  (let [^bytes whole (codec/encode [pid :zz-slot] #{})
        ^bytes slot (codec/encode :zz-slot #{})
        n (alength slot)
        at (first (filter #(java.util.Arrays/equals (java.util.Arrays/copyOfRange whole (int %) (int (+ % n))) slot)
                          (range (alength whole))))]
    (byte-array (concat (take at whole) hostile (drop (+ at n) whole)))))

;; Each hostile payload of the issue, inside a well-shaped SEND to a live
;; tasklet: the node closes that connection with a logged reason, the
;; tasklet receives nothing (the old thaw delivered a HashMap holding a
;; java.io.File, and initialised clojure.test.junit__init), and the node's
;; other peer carries on.
(deftest hostile-payloads-close-the-connection
  (with-nodes [a (start :nh-a :serializable-allowlist #{"java.util.HashMap"}) b (start :nh-b)]
    (node/run-on a node/connect! (:address b))
    (let [got (LinkedBlockingQueue.)
          victim (node/run-on a (fn [] (t/spawn (fn [] (loop [] (t/receive m (do (.add got m) (recur))))))))
          id (fn [sym] (long @(ns-resolve 'taoensso.nippy sym)))
          file-map (binding [taoensso.nippy/*freeze-serializable-allowlist* #{"java.util.HashMap" "java.io.File"}]
                     (taoensso.nippy/fast-freeze (doto (java.util.HashMap.) (.put "f" (java.io.File. "/etc/passwd")))))
          init-name (.getBytes "clojure.test.junit__init" "UTF-8")
          init-record (byte-array (concat [(id 'id-record-sm) (alength init-name)] init-name (codec/encode {} #{})))
          huge (byte-array [(id 'id-bytes-lg) 127 -1 -1 -1])]
      (doseq [[what hostile] [["HashMap holding a File" file-map]
                              ["record naming a namespace's __init" init-record]
                              ["2 GiB byte array from 5 bytes" huge]]]
        (testing what
          (let [{:keys [^Transport t] :as raw} (bare-peer "nh-raw")]
            (try
              (let [^Connection c (.get (.connect t (:address a)) 5 TimeUnit/SECONDS)]
                (await-kind raw :connected)
                (.send c (int dist/SEND) (splice victim hostile))
                (let [[k _ reason] (await-kind raw :disconnected)]
                  (is (= :disconnected k))
                  (is (re-find #"does not thaw" (str reason)) (str reason))))
              (finally (.close t))))))
      (is (nil? (.poll got 200 TimeUnit/MILLISECONDS)) "the victim got nothing")
      (is (nil? (find-ns 'clojure.test.junit)))
      (is (= [:nh-b] (node/run-on a node/nodes))))))

;; ---------------------------------------------------------------------------
;; 5. Decoding off the event loop, 7. inbound back-pressure

(defn- authenticated-socket
  "A raw socket that passes node n's handshake as node nm (the node's name sorts
  lower, so the node decides) and then is left to the test: {:sock :out :pid-of}."
  [n nm]
  (let [sock (raw-socket n 10000)
        in (DataInputStream. (.getInputStream sock))
        out (DataOutputStream. (.getOutputStream sock))
        [_ theirs] (s/read-frame in)
        inc (Config/freshIncarnation)
        mine (s/hello-payload nm inc "127.0.0.1:1" (Handshake/nonce))]
    (.write out (s/frame-bytes FrameType/HELLO mine))
    (.write out (s/frame-bytes FrameType/PROOF (s/proof cookie Handshake/INITIATOR mine theirs)))
    (.flush out)
    (let [[ty] (s/read-frame in)] (assert (= FrameType/PROOF ty) "the node proved"))
    {:sock sock :out out :inc inc}))

(defn- colliding-strings
  "2^k distinct strings of one String.hashCode (and so one Clojure hash): each
  is k blocks, \"Aa\" or \"BB\"."
  [k]
  (reduce (fn [ss _] (for [s ss b ["Aa" "BB"]] (str s b))) [""] (range k)))

;; A set of 8,192 strings that share one hash code takes the thaw O(n^2):
;; about 6 s of CPU here. It is decoded on the inbound pool, so the event
;; loop that also serves the node's real peer keeps reading its heartbeats
;; (a 2 s heartbeat timeout: the old thaw on the event loop dropped that
;; peer), and the set is delivered in the end.
(deftest slow-thaw-does-not-stall-heartbeats
  (with-nodes [a (start :nh-a :heartbeat-timeout-ms 2000) b (start :nh-b :heartbeat-timeout-ms 2000)]
    (node/run-on a node/connect! (:address b))
    (let [got (LinkedBlockingQueue.)
          victim (node/run-on a (fn [] (t/spawn (fn [] (t/receive m (.add got (count m)))))))
          watcher (node/run-on a (fn [] (t/spawn (fn [] (node/monitor-node :nh-b)
                                                   (t/receive [:nodedown _] (.add got :nodedown))))))
          strs (vec (colliding-strings 13))
          ^bytes v (codec/encode strs #{})
          id (fn [sym] (byte @(ns-resolve 'taoensso.nippy sym)))
          ;; the same bytes as a set: only the type id differs (same count field)
          _ (aset-byte v 0 (byte ({(id 'id-vec-md) (id 'id-set-md)} (aget v 0))))
          {:keys [^Socket sock ^DataOutputStream out inc]} (authenticated-socket a "nh-slow")]
      (try
        (.write out (s/frame-bytes dist/SEND (splice victim v)))
        (.flush out)
        (let [r (.poll got 60 TimeUnit/SECONDS)]
          (is (= 8192 r) (str "the victim got " r)))
        (is (some #{:nh-b} (node/run-on a node/nodes)) "the real peer is still connected")
        (is (nil? (.poll got 100 TimeUnit/MILLISECONDS)) "no nodedown")
        (finally (.close sock) (t/exit watcher :kill))))))

;; A peer that sends requests (each reply as large as its request) and never
;; reads: the node stops answering while the connection is not writable, then
;; stops reading once 8 MiB wait undelivered, so within 3 s the peer can push
;; only a bounded amount (the old node read and answered all of it, piling
;; the replies up in its write buffer), the node's memory stays bounded, and
;; its other peer is served meanwhile.
(deftest peer-that-never-reads-is-throttled
  (with-nodes [a (start :nh-a) b (start :nh-b)]
    (node/run-on b node/connect! (:address a))
    (let [direct0 (used-direct-bytes)
          heap0 (live-heap-bytes)
          {:keys [^Socket sock ^DataOutputStream out inc]} (authenticated-socket a "nh-flood")
          me (Pid. "nh-flood" 1 inc)
          pad (apply str (repeat 10000 \x))
          frame (s/frame-bytes dist/REQUEST (codec/encode [pad me :alive me] #{}))
          pushed (java.util.concurrent.atomic.AtomicLong.)
          writer (future
                   (try
                     (while (< (.get pushed) (* 200 1024 1024))
                       (.write out frame)
                       (.addAndGet pushed (alength frame)))
                     (catch IOException _)))]
      (try
        (deref writer 3000 nil)
        (is (< (.get pushed) (* 64 1024 1024)) (str "the peer pushed " (.get pushed) " bytes in 3 s"))
        (testing "the other peer is served meanwhile"
          (is (instance? Pid (node/run-on b (fn [] (t/spawn-on :nh-a 'tasklet.node.helpers/echo))))))
        (let [direct (- (used-direct-bytes) direct0)
              heap (- (live-heap-bytes) heap0)]
          (is (< direct (* 64 1024 1024)) (str "direct memory grew by " direct))
          (is (< heap (* 128 1024 1024)) (str "the live heap grew by " heap)))
        (finally
          (.close sock)
          (future-cancel writer))))))
