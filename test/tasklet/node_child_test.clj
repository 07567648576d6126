(ns tasklet.node-child-test
  "Distribution against real child JVMs (start-local-nodes!): messages both
  ways, [name node] sends, spawn-on, remote links, monitors, exit, alive?,
  :noconnection on a frozen peer (missed heartbeats) and on kill -9 within 2
  ticks with nothing left behind, a new child after a kill -9, spawn-on's
  choice of the least loaded node, per-sender order, the remote echo of
  random data, gen-server calls.
  One child serves the whole namespace (a :once fixture), since a JVM takes
  seconds to start; the parent here is an in-JVM node made with :default?
  false, and each test runs on it through node/run-on. Every wait is bounded;
  nothing sleeps."
  (:require [clojure.string :as str]
            [clojure.test :refer [deftest is testing use-fixtures]]
            [clojure.test.check.clojure-test :refer [defspec]]
            [clojure.test.check.generators :as gen]
            [clojure.test.check.properties :as prop]
            [tasklet.core :as t :refer [! receive self]]
            [tasklet.impl.dist :as dist]
            [tasklet.node :as node]
            [tasklet.node.helpers :as h]
            [tasklet.node-test :as nt])
  (:import (tasklet.kernel Pid)))

(set! *warn-on-reflection* true)

(def ^:private tick-ms 1000)

(def ^:dynamic *parent* "The parent node's handle." nil)
(def ^:dynamic *child* "The child node's name." nil)
(def ^:dynamic *doomed* "Two more children, for lost-children to lose." nil)
(def ^:dynamic *progress* "What start-local-nodes! printed starting them." nil)

(defn- with-child [f]
  ;; a heartbeat timeout of 2 ticks (the default is 10), which the children
  ;; share: lost-children measures the loss of a frozen child against it
  (let [p (node/start! {:name :nc :cookie "child-test-cookie-0123456789" :default? false :workers 2
                        :tick-ms tick-ms :heartbeat-timeout-ms (* 2 tick-ms)})]
    (try
      ;; three JVMs start faster together than one after another; on a loaded
      ;; 2-core machine that can take minutes, so allow more than the defaults
      (let [out (java.io.StringWriter.)
            [c & doomed] (binding [node/*run-on-timeout-ms* 240000
                                   *out* out]       ; run-on conveys it: the progress is kept, not shown
                           (node/run-on p node/start-local-nodes! 3
                                        {:timeout-ms 180000
                                         ;; the tests crash child tasklets on purpose
                                         :jvm-opts ["-Dtasklet.crash-reports=silent"]}))]
        (binding [*parent* p *child* c *doomed* doomed *progress* (str out)] (f)))
      (finally (node/stop! p)))))

(use-fixtures :once with-child)

(defn- on-parent [f] (node/run-on *parent* f))

(defn- next-msg
  "The next message within 5 s, else :timeout."
  []
  (receive m m (after 5000 :timeout)))

(defn- child-pid? [p] (and (instance? Pid p) (= (name *child*) (.-node ^Pid p))))

;; start-local-nodes! says what it starts and which child is up, one line each.
(deftest start-local-nodes-prints-progress
  (let [lines (str/split-lines *progress*)]
    (is (= 4 (count lines)) *progress*)
    (is (= "tasklet.node: starting 3 local nodes [:nc-1 :nc-2 :nc-3], a JVM each: this takes some seconds"
           (first lines)))
    (is (= #{:nc-1 :nc-2 :nc-3}
           (set (map #(keyword (subs (second (re-find #"^tasklet.node: (:\S+) is up \(\d+\.\d s\)$" %)) 1))
                     (rest lines)))))))

;; Messages both ways, pids and refs inside them, spawn-on by var and symbol.
(deftest send-both-ways
  (on-parent
    (fn []
      (let [e (t/spawn-on *child* #'h/echo)
            x {:me (self) :ref (t/make-ref) :v [1 "two" :three #{4.0}]}]
        (is (child-pid? e))
        (! e [:echo (self) x])
        (is (= [:echoed x] (next-msg)))
        (let [r (t/spawn-on *child* 'tasklet.node.helpers/reply-self (self) :hi)]
          (is (= [:hello r :hi] (next-msg)) "the child sends to a parent pid")
          (! r :stop))
        (! e :stop)))))

;; [name node] sends both ways.
(deftest named-sends
  (on-parent
    (fn []
      (let [p (t/spawn-on *child* #'h/register-and-wait :nc-echo (self))]
        (is (= [:registered :nc-echo p] (next-msg)))
        (! [:nc-echo *child*] [:echo (self) 1])
        (is (= [:echoed 1] (next-msg)))
        (is (= p (node/whereis-remote :nc-echo *child*)))
        (t/register :nc-box (self))
        (t/spawn-on *child* #'h/try-send [:nc-box :nc] :from-child (self))
        (is (= #{:from-child [:ok]} (hash-set (next-msg) (next-msg))))
        (t/unregister :nc-box)
        (! p :stop)))))

;; A remote link: a crash on the child reaches a trapping parent tasklet as
;; [:EXIT pid reason] (a Throwable as ex-info); a parent exit reaches a
;; trapping child tasklet.
(deftest remote-links
  (on-parent
    (fn []
      (t/trap-exit! true)
      (let [c (t/spawn-on *child* #'h/crash-on)]
        (t/link c)
        (! c [:crash (IllegalStateException. "bad")])
        (let [[tag from ^Throwable reason :as m] (next-msg)]
          (is (= [:EXIT c] [tag from]) (pr-str m))
          (is (= "java.lang.IllegalStateException" (:tasklet/class (ex-data reason))))
          (is (= "bad" (.getMessage reason)))))
      (let [me (self)
            local (t/spawn (fn [] (receive :go (t/exit :bye))))
            c (t/spawn-on *child* #'h/link-to local me)]
        (is (= [:linked c] (next-msg)))
        (! local :go)
        (is (= [:got [:EXIT local :bye]] (next-msg)))
        ;; unlink: no signal afterwards (no `testing` in a tasklet: its binding
        ;; would span a receive)
        (do
          (let [l2 (t/spawn (fn [] (receive :go (t/exit :bye2))))]
            (t/link c)
            (t/unlink c)
            (! c :ignored)
            (is (= [:got :ignored] (next-msg)))
            (t/exit c :kill)
            (is (= :none (receive [:EXIT c _] :exit (after 300 :none))))
            (! l2 :go))))
      ;; link to a dead remote pid: :noproc
      (do
        (let [[p ref] [(t/spawn-on *child* #'h/wait-forever) nil]
              r (t/monitor p)]
          (! p :stop)
          (is (= [:DOWN r :process p :normal] (next-msg)))
          (t/link p)
          (is (= [:EXIT p :noproc] (next-msg)))))
      (t/trap-exit! false))))

;; Remote monitors of a pid and of [name node]; :noproc for a dead pid;
;; demonitor stops the DOWN; the Throwable reason arrives as ex-info.
(deftest remote-monitors
  (on-parent
    (fn []
      (let [c (t/spawn-on *child* #'h/crash-on)
            r (t/monitor c)]
        (! c [:crash (ArithmeticException. "div")])
        (let [[_ r2 _ who ^Throwable reason] (next-msg)]
          (is (= [r c] [r2 who]))
          (is (= "java.lang.ArithmeticException" (:tasklet/class (ex-data reason)))))
        ;; already dead: :noproc at once
        (do
          (let [r3 (t/monitor c)]
            (is (= [:DOWN r3 :process c :noproc] (next-msg))))))
      (let [p (t/spawn-on *child* #'h/register-and-wait :nc-mon (self))
            _ (is (= [:registered :nc-mon p] (next-msg)))
            r (t/monitor [:nc-mon *child*])]
        (! p [:echo (self) :sync])           ; the MONITOR frame went before this
        (is (= [:echoed :sync] (next-msg)))
        (! p :stop)
        (is (= [:DOWN r :process [:nc-mon *child*] :normal] (next-msg))))
      (let [p (t/spawn-on *child* #'h/wait-forever)
            r (t/monitor p)]
        (t/demonitor r)
        (! p :stop)
        (is (= :none (receive [:DOWN r & _] :down (after 300 :none)))))
      ;; a child tasklet monitors a parent tasklet
      (do
        (let [me (self)
              local (t/spawn (fn [] (receive :go :done)))
              c (t/spawn-on *child* #'h/monitor-and-report local me)
              [_ _ ref] (next-msg)]
          (! local :go)
          (is (= [:got [:DOWN ref :process local :normal]] (next-msg)))
          (t/exit c :kill))))))

;; exit/2 across nodes, both ways; alive? and process-info of remote pids.
(deftest remote-exit-and-alive
  (on-parent
    (fn []
      (let [p (t/spawn-on *child* #'h/wait-forever)
            r (t/monitor p)]
        (is (true? (t/alive? p)))
        (is (#{:waiting :runnable :running} (:status (node/process-info-remote p))))
        (is (= `h/wait-forever (:initial-fn (t/process-info p))) "core's process-info asks the pid's node")
        (t/exit p :kill)
        (is (false? (t/alive? p)) "ordered after our own exit signal, across the wire too")
        (is (= [:DOWN r :process p :killed] (next-msg)))
        (is (false? (t/alive? p)))
        (is (nil? (node/process-info-remote p)))
        (is (nil? (t/process-info p))))
      (let [me (self)
            local (t/spawn (fn [] (receive :never :x)))
            r (t/monitor local)]
        (t/spawn-on *child* #'h/exit-other local :bang me)
        (is (= #{[:sent-exit] [:DOWN r :process local :bang]} (hash-set (next-msg) (next-msg))))))))

;; An unserializable message: ! throws :unserializable on the sender, and the
;; connection stays up.
(deftest unserializable-message
  (on-parent
    (fn []
      (let [e (t/spawn-on *child* #'h/echo)]
        (is (= :unserializable (try (! e [:echo (self) (atom 1)]) nil
                                    (catch clojure.lang.ExceptionInfo x (:tasklet/error (ex-data x))))))
        (! e [:echo (self) :still-up])
        (is (= [:echoed :still-up] (next-msg)))
        (is (some #{*child*} (node/nodes)))
        (! e :stop)))))

;; gen-server calls across nodes, by pid and by [name node].
(deftest server-call-across-nodes
  (on-parent
    (fn []
      ;; *child* is read once, before any call: see the report about
      ;; dynamic bindings after tasklet.server/call on the continuation strand
      (let [call (requiring-resolve 'tasklet.server/call)
            child *child*]
        (t/spawn-on child #'h/start-counter :nc-counter (self))
        (let [[_ pid] (next-msg)]
          (is (= (name child) (.-node ^Pid pid)))
          (is (= 1 (call pid :inc)))
          (is (= 2 (call [:nc-counter child] :inc)))
          (is (= 2 (call pid :get)))
          (t/exit pid :kill))))))

;; Aliases across the wire: a child sends through the parent's alias as a
;; SEND frame to a ref; once the parent unaliases, the parent's kernel drops
;; what arrives through it (the child's next message, after it in the
;; connection's order, shows that nothing was delivered). A call's late reply
;; is dropped the same way: no relay tasklet.
(deftest aliases-across-the-wire
  (on-parent
    (fn []
      (let [e (t/spawn-on *child* #'h/echo)
            a (t/alias)]
        (! e [:echo a :through-alias])
        (is (= [:echoed :through-alias] (next-msg)))
        (is (true? (t/unalias a)))
        (! e [:echo a :dropped])
        (! e [:echo (self) :after])
        (is (= [:echoed :after] (next-msg)))
        (! e :stop))
      (let [call (requiring-resolve 'tasklet.server/call)
            cast (requiring-resolve 'tasklet.server/cast)
            send-request (requiring-resolve 'tasklet.server/send-request)
            receive-response (requiring-resolve 'tasklet.server/receive-response)
            child *child*]
        (t/spawn-on child #'h/start-counter :nc-alias-counter (self))
        (let [[_ pid] (next-msg)
              before (count (t/processes))]
          (is (= :timeout (try (call pid :defer 50) (catch clojure.lang.ExceptionInfo x (:tasklet/error (ex-data x))))))
          (cast pid :release)
          (is (= 1 (call pid :inc)))
          (is (= :empty (receive m [:stray m] (after 200 :empty))) "the late reply was dropped")
          (is (= before (count (t/processes))) "no relay tasklet")
          (let [rs (mapv #(send-request pid %) [:inc :inc :get])]
            (is (= [2 3 3] (mapv #(receive-response % 5000) rs))))
          (t/exit pid :kill))))))

;; Helpers for spawn-on-least-loaded.

(defn- await-loads
  "Polls (node/loads) until (ok? loads), for up to 10 s, and returns the last
  loads. The figures come with heartbeats, once a tick, and signal nothing
  else, so the figures themselves are what is waited for."
  [ok?]
  (let [deadline (+ (System/currentTimeMillis) 10000)]
    (loop []
      (let [l (node/loads)]
        (if (or (ok? l) (> (System/currentTimeMillis) deadline))
          l
          (do (receive :tasklet/never-sent nil (after 20 nil)) (recur)))))))

(defn- ballast!
  "n tasklets waiting on node nd (this node or a child); returns their pids."
  [nd n]
  (if (= nd (node/self-node))
    (vec (repeatedly n #(t/spawn h/wait-forever)))
    (do (t/spawn-on nd #'h/spawn-waiters n (self))
        (receive [:waiters ps] ps (after 10000 [])))))

(defn- placed-on
  "{node count}: where n spawn-on calls without a node put their tasklets;
  adds the pids to the atom ps."
  [n ps]
  (let [new (vec (repeatedly n #(t/spawn-on #'h/wait-forever)))]
    (swap! ps into new)
    (frequencies (map #(keyword (.-node ^Pid %)) new))))

;; spawn-on without a node puts each tasklet on the least loaded of this node
;; and its connected children, by the load their heartbeats report (plus what
;; it placed since). Made deterministic by loading the nodes far apart and
;; waiting until the heartbeats report it: then the choice cannot depend on
;; timing. Three rounds: a child is least loaded, then this node, then all
;; are about even and a burst of spawns must reach every node (each placement
;; counts against its node before the next heartbeat says so).
(deftest spawn-on-least-loaded
  (on-parent
    (fn []
      (let [me (node/self-node)
            base (node/loads)
            others (disj (set (keys base)) me)
            light *child*
            k 10
            ;; more than any node carries now, plus k, plus room for tasklets of
            ;; earlier tests still ending: a ballasted node stays the heavier
            heavy (+ (apply max (vals base)) k 20)
            ps (atom [])                 ; every tasklet this test started
            load! (fn [nd] (let [b (ballast! nd heavy)] (swap! ps into b) b))
            stop! (fn [pids] (run! #(! % :stop) pids))
            near-base? (fn [l] (every? (fn [[nd n]] (<= n (+ 2 (get base nd 0)))) l))]
        (try
          (is (contains? others light))
          (let [own (load! me)
                kids (disj others light)]
            (run! load! kids)
            (let [l (await-loads (fn [l] (every? #(>= (get l %) heavy) kids)))]
              (is (every? #(>= (get l %) heavy) kids) (pr-str l)))
            (is (= {light k} (placed-on k ps)) "a child is least loaded")
            (stop! own))
          (load! light)
          (let [ok? (fn [l] (and (>= (get l light) heavy) (< (get l me) (- heavy k))))
                l (await-loads ok?)]
            (is (ok? l) (pr-str l))
            (is (= {me k} (placed-on k ps)) "this node is least loaded"))
          (stop! @ps)
          (reset! ps [])
          (let [l (await-loads near-base?)
                top (apply max (vals l))
                n (+ (reduce + (map #(- top %) (vals l))) (* 3 (count l)))
                spread (placed-on n ps)]
            (is (near-base? l) (pr-str base l))
            (is (= (set (keys l)) (set (keys spread))) (str "every node got some: " (pr-str l spread))))
          (finally
            (stop! @ps)))))))

;; Random nested data with pids and refs survives a remote echo unchanged.
(defspec remote-echo-round-trip 40
  (prop/for-all [x nt/gen-term]
    (on-parent
      (fn []
        (let [e (t/spawn-on *child* #'h/echo)]
          (! e [:echo (self) x])
          (let [m (next-msg)]
            (! e :stop)
            (= [:echoed x] m)))))))

(def ^:private gen-plan
  "[[node n] ...]: senders, each on :parent or :child, each sending n messages."
  (gen/vector (gen/tuple (gen/elements [:parent :child]) (gen/choose 1 300)) 1 6))

;; Per-sender order holds with several senders on two nodes sending to one
;; receiver on the parent (through the wire for the child's senders).
(defspec per-sender-order 15
  (prop/for-all [plan gen-plan]
    (on-parent
      (fn []
        (let [me (self)]
          (doseq [[i [where n]] (map-indexed vector plan)]
            (if (= where :parent)
              (t/spawn h/sender me i n)
              (t/spawn-on *child* #'h/sender me i n)))
          (loop [seen {} done 0]
            (if (= done (count plan))
              (= seen (into {} (map-indexed (fn [i [_ n]] [i n])) plan))
              (let [m (receive [:seq tag k] [:seq tag k] [:done tag] [:done tag] (after 10000 :timeout))]
                (case (first m)
                  :seq (let [[_ tag k] m]
                         (if (= k (get seen tag 0)) (recur (assoc seen tag (inc k)) done) false))
                  :done (recur seen (inc done))
                  false)))))))))

;; A frozen child (SIGSTOP: its socket stays open, its heartbeats stop) is
;; declared lost after missed ticks; a kill -9'd child at once. Either way,
;; within 2 tick periods (issue #4): :noconnection to monitors and links,
;; [:nodedown n] to node monitors; nothing about the lost child lingers
;; (process-info, the node's tables, its entry among the children); the other
;; children are unaffected; and the parent can start a new child and use it.
(deftest lost-children
  (binding [node/*run-on-timeout-ms* 300000]   ; room for the new child's JVM start
    (on-parent
      (fn []
        (doseq [[how c] (map vector [:sigstop :kill-9] *doomed*)]
          (do
            (let [^Process proc (get (node/local-node-processes) c)
                  st (dist/state-of (:node *parent*))
                  nm (name c)]
              (try
                (t/trap-exit! true)
                (let [p (t/spawn-on c #'h/wait-forever)
                      q (t/spawn-on c #'h/wait-forever)
                      r (t/monitor p)]
                  (t/link q)
                  (node/monitor-node c)
                  ;; taken before the signal is sent, so the time measured is
                  ;; never shorter than the real one
                  (let [t0 (System/nanoTime)]
                    (case how
                      :sigstop (.waitFor (.exec (Runtime/getRuntime)
                                                ^"[Ljava.lang.String;" (into-array String ["kill" "-STOP" (str (.pid proc))])))
                      :kill-9 (.destroyForcibly proc))
                    (let [ms (vec (repeatedly 3 #(receive m [m (System/nanoTime)] (after 5000 [:timeout 0]))))]
                      (is (= #{[:DOWN r :process p :noconnection] [:EXIT q :noconnection] [:nodedown c]}
                             (set (map first ms)))
                          (name how))
                      ;; 2 ticks, plus the 100 ms allowance of node-test's
                      ;; heartbeat-loss-within-two-ticks, plus starting /bin/kill
                      ;; (inside the measured time for :sigstop)
                      (doseq [[m at] ms
                              :let [elapsed (/ (- (long at) t0) 1e6)]]
                        (is (<= elapsed (+ (* 2 tick-ms) 250))
                            (str (name how) ": " (pr-str m) " came " elapsed " ms after the signal")))))
                  (is (not (some #{c} (node/nodes))))
                  (is (false? (t/alive? p)))
                  (is (some #{*child*} (node/nodes)))
                  (is (= {:links [] :monitors []} (select-keys (t/process-info (self)) [:links :monitors]))
                      "no link or monitor left on this side")
                  (is (nil? (get (node/local-node-processes) c)) "no longer a child")
                  (is (every? #(or (nil? %) (and (coll? %) (empty? %))) (vals (dist/tables st nm)))
                      "nothing in the node's tables"))
                (finally
                  (t/trap-exit! false)
                  (.destroyForcibly proc))))))
        ;; issue #4: the parent can start a new child after one was killed
        (let [out (java.io.StringWriter.)
              [fresh] (binding [*out* out] (node/start-local-nodes! 1 {:timeout-ms 180000 :progress false}))
              e (t/spawn-on fresh #'h/echo)]
          (is (= "" (str out)) ":progress false prints nothing")
          (is (some #{fresh} (node/nodes)))
          (! e [:echo (self) :hello])
          (is (= [:echoed :hello] (next-msg)))
          (node/disconnect! fresh)
          (is (nil? (get (node/local-node-processes) fresh))))))))
