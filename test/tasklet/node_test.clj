(ns tasklet.node-test
  "Distribution with several nodes in this JVM (fast): connect, auth, spawn-on
  over the wire, bad input, hostile peers, node monitors, the codec. Nodes of
  one JVM talk over the same wire as nodes of two (see tasklet.node), so
  messages, links and monitors between them cross real connections; a child
  JVM is in tasklet.node-child-test, and a stand-in peer here (a bare
  transport that speaks the node protocol by hand) sends what a node would
  not. Every wait is bounded; nothing sleeps."
  (:require [clojure.test :refer [deftest is testing use-fixtures]]
            [clojure.test.check.clojure-test :refer [defspec]]
            [clojure.test.check.generators :as gen]
            [clojure.test.check.properties :as prop]
            [tasklet.core :as t :refer [! receive self]]
            [tasklet.impl.codec :as codec]
            [tasklet.impl.dist :as dist]
            [tasklet.node :as node]
            [tasklet.node.helpers :as h :refer [with-nodes]])
  (:import (java.util.concurrent CountDownLatch LinkedBlockingQueue TimeUnit)
           (java.util.concurrent.atomic AtomicLong AtomicReference)
           (tasklet.kernel Pid Ref)
           (tasklet.net Config Connection Endpoint Transport)))

(set! *warn-on-reflection* true)

(def ^:private cookie "node-test-cookie")

(defn- start [nm & {:as opts}] (h/start-node cookie nm opts))

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
;; A stand-in peer: a bare transport speaking the node protocol by hand, so a
;; test can see and drive the wire (links and monitors over it, then its loss)
;; without a second JVM

(defn- fake-peer
  "A bare transport called nm (right cookie, heartbeat every tick-ms) that
  stands in for a node. :frames receives [type decoded-payload] for each
  application frame it gets; :conns its connections. Its load is asked for
  just before each heartbeat is written: then :ticked gets the System/nanoTime
  and (on-tick n connection) runs, n counting heartbeats from 1, on the
  connection's event loop."
  ([nm tick-ms] (fake-peer nm tick-ms nil))
  ([nm tick-ms on-tick]
   (let [frames (LinkedBlockingQueue.)
         conns (LinkedBlockingQueue.)
         ticked (AtomicLong.)
         ticks (AtomicLong.)
         latest (AtomicReference.)
         ep (reify Endpoint
              (connected [_ c] (.set latest c) (.add conns c))
              (frame [_ _ ty p] (.add frames [ty (codec/decode p #{})]))
              (disconnected [_ _ _] nil)
              (load [_]
                (.set ticked (System/nanoTime))
                (when on-tick (on-tick (.incrementAndGet ticks) (.get latest)))
                0))]
     {:frames frames :conns conns :ticked ticked
      :t (Transport/start (.build (doto (Config/builder ^String nm ^String cookie) (.tickMs (long tick-ms))))
                          ep)})))

(defn- connect-fake!
  "Connects node a to fake (so a's side is open when this returns) and returns
  the fake's side of the connection."
  ^Connection [a {:keys [^Transport t ^LinkedBlockingQueue conns]}]
  (node/run-on a node/connect! (str "127.0.0.1:" (.port t)))
  (.poll conns 5 TimeUnit/SECONDS))

(defn- await-frame
  "The next frame of type ty the fake got (skipping others), within 5 s, else nil."
  [{:keys [^LinkedBlockingQueue frames]} ty]
  (loop []
    (when-let [[t v] (.poll frames 5 TimeUnit/SECONDS)]
      (if (= t ty) v (recur)))))

(defn- fake-send!
  "The fake sends a frame of type ty with payload v (frozen)."
  [^Connection c ty v]
  (.send c (int ty) (codec/encode v #{})))

(defn- fake-sync!
  "Returns once node a has handled every frame the fake sent before: asks it
  whether pid is alive and waits for the answer (one connection keeps order)."
  [fake ^Connection c ^Pid pid]
  (let [id (rand-int 1000000)]
    (fake-send! c dist/REQUEST [id (Pid. "nt-fake" 1 (.incarnation ^Transport (:t fake))) :alive pid])
    (loop []
      (let [v (await-frame fake dist/REPLY)]
        (when (and v (not= id (first v))) (recur))))))

(defn- msgs-within
  "The next n messages of the calling tasklet, each [msg System/nanoTime-at-receipt],
  waiting up to ms for each ([:timeout t] when none came)."
  [n ms]
  (vec (repeatedly n #(receive m [m (System/nanoTime)] (after ms [:timeout (System/nanoTime)])))))

;; Issue #4: a peer that stops answering heartbeats is lost within its
;; heartbeat timeout (set here to 2 tick periods; the default is 10). The fake peer's event loop blocks right after its third heartbeat
;; has gone out (the worst moment: the node heard from it just now), so from
;; then on it sends and reads nothing, like a SIGSTOPped JVM whose socket
;; stays open. From that moment, taken on the blocked loop itself, the link,
;; the monitor and the node monitor on it must fire within 2 ticks, and not
;; before 2 ticks have passed since that heartbeat (no early give-up).
(deftest heartbeat-loss-within-two-ticks
  (let [tick 300
        ;; On top of 2 ticks, for what follows the node's silence check firing
        ;; on time: closing the channel, the sweep on its event loop, waking
        ;; the receiving tasklet. That took 1-6 ms in 20 runs on this 2-core
        ;; machine; 250 ms more covers a young GC pause or a descheduled
        ;; thread when other JVMs share the cores (759 ms was seen with six
        ;; test JVMs on the 2 cores), and still fails a node that waits for a
        ;; third tick (300 ms late), which 5 s waits would not.
        allowance 250]
    (with-nodes [a (start :nt-a :tick-ms tick :heartbeat-timeout-ms (* 2 tick))]
      (let [release (CountDownLatch. 1)
            frozen (AtomicLong.)
            freeze (reify Runnable (run [_] (.set frozen (System/nanoTime)) (.await release)))
            ;; the heartbeat's flush is a task queued behind this call: hop
            ;; once more so that the freeze comes after it
            on-tick (fn [n ^Connection c]
                      (when (= n 3)
                        (.whenWritable c (reify Runnable (run [_] (.whenWritable c freeze))))))
            {:keys [^Transport t ^AtomicLong ticked] :as fake} (fake-peer "nt-fake" tick on-tick)]
        (try
          (let [c (connect-fake! a fake)
                fp (Pid. "nt-fake" 1 (.incarnation t))
                {:keys [r ms]}
                (node/run-on a
                  (fn []
                    (t/trap-exit! true)
                    (t/link fp)
                    (let [r (t/monitor fp)]
                      (node/monitor-node :nt-fake)
                      {:r r :ms (msgs-within 3 (* 10 tick))})))
                last-tick (.get ticked)]
            (is (= #{[:EXIT fp :noconnection] [:DOWN r :process fp :noconnection] [:nodedown :nt-fake]}
                   (set (map first ms))))
            (doseq [[m at] ms
                    :let [since-stop (/ (- (long at) (.get frozen)) 1e6)
                          since-tick (/ (- (long at) last-tick) 1e6)]]
              (is (<= since-stop (+ (* 2 tick) allowance))
                  (str (pr-str m) " came " since-stop " ms after the peer stopped"))
              (is (>= since-tick (* 2 tick))
                  (str (pr-str m) " came only " since-tick " ms after the peer's last heartbeat"))))
          (finally
            (.countDown release)
            (.close t)))))))

;; Issue #4: after a node is lost nothing about it lingers: no link, monitor
;; or monitored-by entry in the tasklets (process-info) and no entry in the
;; node's own tables (links, monitors both ways, pending requests, node
;; monitors, load bookkeeping). Everything is set up both ways over the wire
;; first, and checked to be there, so the test cannot pass by accident.
(deftest nothing-lingers-after-node-loss
  (with-nodes [a (start :nt-a)]
    (let [{:keys [^Transport t] :as fake} (fake-peer "nt-fake" 200)
          st (dist/state-of (:node a))
          tables (fn [] (dissoc (dist/tables st "nt-fake") :address))
          gone? (fn [x] (or (nil? x) (and (coll? x) (empty? x))))]
      (try
        (let [c (connect-fake! a fake)
              fp (Pid. "nt-fake" 1 (.incarnation t))
              me (promise)
              done (promise)
              ta (node/spawn-on a
                   (fn []
                     (t/trap-exit! true)
                     (t/link fp)
                     (let [r1 (t/monitor fp)
                           r2 (t/monitor [:somebody :nt-fake])]
                       (node/monitor-node :nt-fake)
                       (deliver me [(self) r1 r2])
                       (deliver done (set (repeatedly 4 #(receive m m (after 5000 :timeout)))))
                       (receive :never nil))))
              [ta r1 r2] (deref me 5000 nil)
              asker (promise)]
          ;; the fake links to ta and monitors it; a request of a's waits on it
          (is (= [ta fp] (await-frame fake dist/LINK)))
          (fake-send! c dist/LINK [fp ta])
          (fake-send! c dist/MONITOR [fp (Ref. "nt-fake" 7 (.incarnation t)) ta])
          (node/spawn-on a (fn [] (deliver asker (try (node/process-info-remote fp)
                                                      (catch clojure.lang.ExceptionInfo e
                                                        (:tasklet/error (ex-data e)))))))
          (is (await-frame fake dist/REQUEST))
          (fake-sync! fake c ta)
          (let [before (tables)
                info (node/run-on a (fn [] (t/process-info ta)))]
            (is (not-any? gone? (vals (dissoc before :placed))) (pr-str before))
            (is (= [fp] (:links info)))
            (is (= #{fp [:somebody :nt-fake]} (set (:monitors info))))
            (is (= [fp] (:monitored-by info))))
          (.close t)
          (is (= #{[:EXIT fp :noconnection] [:DOWN r1 :process fp :noconnection]
                   [:DOWN r2 :process [:somebody :nt-fake] :noconnection] [:nodedown :nt-fake]}
                 (deref done 10000 :timeout)))
          (is (= :not-connected (deref asker 10000 :timeout)))
          (let [info (node/run-on a (fn [] (t/process-info ta)))]
            (is (= {:links [] :monitors [] :monitored-by []}
                   (select-keys info [:links :monitors :monitored-by]))))
          (is (every? gone? (vals (tables))) (pr-str (tables))))
        (finally (.close t))))))

;; A monitor's DOWN crosses as a DOWN frame: it reaches the watcher and the
;; monitor is gone from process-info; one that arrives after the watcher
;; demonitored (it was in flight) is dropped, even after {:flush true}; a
;; message that merely looks like a DOWN (a SEND) is delivered as it is; and a
;; monitor of a node that cannot be reached fires :noconnection and is gone.
(deftest remote-down-semantics
  (with-nodes [a (start :nt-a)]
    (let [{:keys [^Transport t] :as fake} (fake-peer "nt-fake" 200)]
      (try
        (let [c (connect-fake! a fake)
              fp (Pid. "nt-fake" 1 (.incarnation t))
              out (LinkedBlockingQueue.)
              ;; a tasklet on a that runs one command at a time and reports
              w (node/spawn-on a
                  (fn []
                    (loop []
                      (when-let [x (receive [::cmd x] x)]
                        (.add out (cond
                                    (= x :monitor) (t/monitor fp)
                                    (vector? x) (t/demonitor (second x) {:flush true})
                                    (= x :next) (receive m m (after 5000 :timeout))
                                    (= x :none) (receive m m (after 0 :none))
                                    (= x :info) (t/process-info (self))
                                    (= x :unreachable) (let [p (Pid. "nt-nowhere" 1 1)
                                                             r (t/monitor p)]
                                                         [(receive m m (after 5000 :timeout)) r p])))
                        (recur)))))
              go! (fn [x] (! w [::cmd x]) (.poll out 5 TimeUnit/SECONDS))]
          (let [r (go! :monitor)]
            (is (= [w r fp] (await-frame fake dist/MONITOR)))
            (fake-send! c dist/DOWN [w [:DOWN r :process fp :normal]])
            (is (= [:DOWN r :process fp :normal] (go! :next)))
            (is (= [] (:monitors (go! :info))) "the monitor is gone once its DOWN came"))
          (let [r (go! :monitor)]
            (is (= [w r fp] (await-frame fake dist/MONITOR)))
            (is (true? (go! [:demonitor r])))
            (is (= [w r fp] (await-frame fake dist/DEMONITOR)))
            ;; the DOWN was in flight when the watcher demonitored
            (fake-send! c dist/DOWN [w [:DOWN r :process fp :late]])
            (fake-send! c dist/SEND [w :after-the-down])
            (is (= :after-the-down (go! :next)))
            (is (= :none (go! :none)) "no DOWN after demonitor")
            (let [lookalike [:DOWN r :process fp :just-a-message]]
              (fake-send! c dist/SEND [w lookalike])
              (is (= lookalike (go! :next)) "a SEND is a message, whatever it looks like")))
          (let [[m r p] (go! :unreachable)]
            (is (= [:DOWN r :process p :noconnection] m))
            (is (= [] (:monitors (go! :info))) "no monitor left behind"))
          (! w [::cmd nil]))
        (finally (.close t))))))

;; Issues #4 and #13: nodes of one JVM link and monitor each other's tasklets
;; over their connection, so losing it breaks those links (both ends get
;; :noconnection, once) and fires the monitors of pids and [name node],
;; exactly as over a socket, and leaves nothing behind in process-info.
(deftest in-jvm-disconnect-breaks-links-and-monitors
  (with-nodes [a (start :nt-a) b (start :nt-b)]
    (node/run-on a node/connect! (:address b))
    (let [got (LinkedBlockingQueue.)
          next! #(.poll got 5 TimeUnit/SECONDS)
          trapper (fn [tag]
                    (fn [] (t/trap-exit! true)
                      (loop [] (receive m (do (.add got [tag m]) (recur))))))
          tb (node/spawn-on b (trapper :tb))
          named (node/spawn-on b (fn [] (t/register :nt-named (self)) (.add got [:named (self)])
                                   (receive :never nil)))
          _ (is (= [:named named] (next!)))
          ta (node/spawn-on a (trapper :ta))
          ta2 (node/spawn-on a
                (fn []
                  (t/trap-exit! true)
                  (t/link tb)
                  (let [r (t/monitor [:nt-named :nt-b])
                        rp (t/monitor named)]
                    (.add got [:ready r rp])
                    (loop [] (receive m (do (.add got [:ta2 m]) (recur)))))))
          [_ r rp] (next!)]
      ;; a link made from b's side too
      ;; alive? asks a over the same connection, after the LINK: a has the link then
      (node/run-on b (fn [] (t/spawn (fn [] (t/link ta) (t/alive? ta) (.add got [:linked])
                                       (receive :never nil)))))
      (is (= [:linked] (next!)))
      (let [linker (first (:links (node/run-on a (fn [] (t/process-info ta)))))]
        (is (= "nt-b" (.-node ^Pid linker)))
        (node/run-on a (fn [] (node/disconnect! :nt-b)))
        (is (= #{[:ta2 [:EXIT tb :noconnection]]
                 [:ta2 [:DOWN r :process [:nt-named :nt-b] :noconnection]]
                 [:ta2 [:DOWN rp :process named :noconnection]]
                 [:tb [:EXIT ta2 :noconnection]]
                 [:ta [:EXIT linker :noconnection]]}
               (set (repeatedly 5 next!))))
        (is (nil? (.poll got 300 TimeUnit/MILLISECONDS)) "each end got one signal")
        (doseq [[h p] [[a ta] [a ta2] [b tb] [b named]]]
          (is (= {:links [] :monitors [] :monitored-by []}
                 (select-keys (node/run-on h (fn [] (t/process-info p))) [:links :monitors :monitored-by]))
              (str p)))))))

;; Issue #13, one mechanism: a pid of another node of this JVM is reached only
;; over a connection. Nodes with different cookies cannot connect, so nothing
;; of theirs crosses: a send is dropped, a link gives :noconnection, a monitor
;; DOWN :noconnection (before, the shared kernel delivered them directly).
(deftest in-jvm-nodes-meet-only-over-the-wire
  (with-nodes [a (start :nt-a) c (h/start-node "another-cookie-entirely" :nt-c {})]
    (let [got (LinkedBlockingQueue.)
          tc (node/spawn-on c (fn [] (loop [] (receive m (do (.add got [:tc m]) (recur))))))]
      (node/run-on a
        (fn []
          (t/trap-exit! true)
          (! tc :hello)
          (t/link tc)
          (let [r (t/monitor tc)]
            (.add got [:ta (next-msg)])
            (.add got [:ta (next-msg)])
            (.add got [:r r]))))
      (let [ms (set (repeatedly 3 #(.poll got 5 TimeUnit/SECONDS)))
            r (some (fn [[k v]] (when (= k :r) v)) ms)]
        (is (= #{[:ta [:EXIT tc :noconnection]] [:ta [:DOWN r :process tc :noconnection]] [:r r]} ms)))
      (is (nil? (.poll got 200 TimeUnit/MILLISECONDS)) "the message did not reach tc")
      (node/run-on c (fn [] (t/register :nt-tc tc)))
      (is (= :not-connected (node/run-on a (fn [] (try (! [:nt-tc :nt-c] :hi) :sent
                                                       (catch clojure.lang.ExceptionInfo e
                                                         (:tasklet/error (ex-data e))))))))
      (is (empty? (node/run-on a node/nodes))))))

;; A stream of sends to two remote tasklets, interleaved in bursts, then an exit
;; signal to each: the receiving loop puts a read's messages and wakes each target once
;; per run of frames (ADR 0010), so this checks that every message arrives in order, none
;; waits for more traffic to be seen, and a signal after the stream comes after all of it.
(deftest a-stream-of-sends-arrives-in-order-before-a-later-signal
  (with-nodes [a (start :ns-a) b (start :ns-b)]
    (let [n 20000
          q (LinkedBlockingQueue.)
          sink (fn []
                 (t/trap-exit! true)
                 (loop [next-i 0]
                   (receive
                     [:n i] (if (= i next-i) (recur (inc next-i)) (.add q [:out-of-order next-i i]))
                     [:EXIT _ reason] (.add q [:exit (self) next-i reason]))))
          x (node/spawn-on b sink)
          y (node/spawn-on b sink)]
      (node/run-on a
        (fn []
          (dotimes [i n]
            (! x [:n i])
            (when (zero? (mod i 7)) (! y [:n (quot i 7)])))
          (t/exit x :bye)
          (t/exit y :bye)))
      (let [got (set (repeatedly 2 #(.poll q 10 TimeUnit/SECONDS)))]
        (is (= #{[:exit x n :bye] [:exit y (inc (quot (dec n) 7)) :bye]} got))))))

;; After disconnect! between two nodes of one JVM, what was linked stays
;; unlinked, and a later send connects again on demand (as over a socket:
;; the address is known), reaching the peer over the new connection.
(deftest in-jvm-send-after-disconnect-reconnects
  (with-nodes [a (start :nt-a) b (start :nt-b)]
    (node/run-on a node/connect! (:address b))
    (let [got (LinkedBlockingQueue.)
          tb (node/spawn-on b (fn [] (t/trap-exit! true)
                                (loop [] (receive m (do (.add got m) (recur))))))
          ta (node/spawn-on a (fn [] (t/trap-exit! true) (t/link tb) (t/alive? tb) (.add got :linked)
                                (loop [] (receive m (do (.add got [:ta m]) (recur))))))]
      (is (= :linked (.poll got 5 TimeUnit/SECONDS)))
      (is (true? (node/run-on a node/disconnect! :nt-b)))
      (is (= #{[:EXIT ta :noconnection] [:ta [:EXIT tb :noconnection]]}
             (set (repeatedly 2 #(.poll got 5 TimeUnit/SECONDS)))))
      (is (empty? (node/run-on a node/nodes)))
      (node/run-on a (fn [] (! tb :again)))
      (is (= :again (.poll got 5 TimeUnit/SECONDS)))
      (is (= [:nt-b] (node/run-on a node/nodes)) "the send connected again")
      (node/run-on b (fn [] (t/register :nt-tb tb)))
      (node/run-on a (fn [] (! [:nt-tb :nt-b] :by-name)))
      (is (= :by-name (.poll got 5 TimeUnit/SECONDS)) "a [name node] send crosses the connection too")
      (is (= [] (:links (node/run-on b (fn [] (t/process-info tb))))) "the link stays broken"))))

;; ---------------------------------------------------------------------------
;; The codec

(def ^:private gen-incarnation (gen/large-integer* {:min Integer/MIN_VALUE :max Integer/MAX_VALUE}))

(def ^:private gen-pid
  (gen/fmap (fn [[n s i]] (Pid. n s i))
            (gen/tuple (gen/elements ["a" "beta" "nt-x"]) gen/large-integer gen-incarnation)))

(def ^:private gen-ref
  (gen/fmap (fn [[n s i]] (Ref. n s i))
            (gen/tuple (gen/elements ["a" "beta"]) gen/large-integer gen-incarnation)))

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
            ;; from the baseline: Netty's pools keep what earlier tests used
            ;; (transport-test's back-pressure leaves about 250 MiB pooled)
            (is (< (- d (second baseline)) (* 256 1024 1024)))))
        (finally (.close raw))))))
