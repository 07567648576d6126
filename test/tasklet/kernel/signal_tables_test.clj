(ns tasklet.kernel.signal-tables-test
  "The kernel's link and monitor tables (tasklet.kernel.Links, Monitors):
  their one lock-order rule under mutual links and monitors, a monitor that
  fires at most once, demonitor with :flush against every way a monitor
  fires, and what an ended tasklet retains."
  (:require [clojure.test :refer [deftest is testing]]
            [tasklet.core :as t :refer [spawn ! receive self monitor demonitor link unlink trap-exit!]]
            [tasklet.test :as tt])
  (:import [java.lang.ref WeakReference]
           [java.util.concurrent LinkedBlockingQueue TimeUnit]
           [java.util.function Predicate]
           [tasklet.kernel Node NodeOptions NodeTable Pid Signals]))

(set! *warn-on-reflection* true)

(defn- node ^Node [nm] (Node. (-> (NodeOptions/builder nm) (.parallelism 4) (.build))))

(defn- pair-body
  "One end of a pair: on [:go peer role], monitor and link the peer over and
  over (demonitoring half the monitors with :flush, unlinking each link),
  then :a ends (with an exit reason) while :b, still racing it, monitors it
  once more and must see that monitor's :DOWN. Reports to done."
  [^LinkedBlockingQueue done]
  (fn []
    (trap-exit! true)
    (receive
      [:go p role]
      (do (dotimes [i 1000]
            (let [r (monitor p)]
              (link p)
              (when (even? i) (demonitor r {:flush true}))
              (unlink p)))
          (if (= role :a)
            (do (.add done :a) (t/exit :done))
            (let [r (monitor p)]
              (receive [:DOWN r :process _ _] (.add done :b))))))))

;; Two tasklets that monitor and link each other at the same moment, many pairs at once, while one end of each pair exits and demonitors race it, never deadlock: every tasklet finishes in bounded time. The pairs cross two nodes whose serials are equal, and share one node too.
(deftest mutual-monitors-and-links-never-deadlock
  (let [x (node "signal-tables-x")
        y (node "signal-tables-y")
        done (LinkedBlockingQueue.)
        body (pair-body done)
        pairs 30]
    (try
      (doseq [[na nb] [[x y] [y x] [x x]]]
        (let [ps (vec (for [_ (range pairs)]
                        [(.spawn ^Node na body body nil nil nil nil) (.spawn ^Node nb body body nil nil nil nil)]))]
          (doseq [[a b] ps] (! a [:go b :a]) (! b [:go a :b]))
          (is (= (* 2 pairs)
                 (loop [n 0]
                   (if (and (< n (* 2 pairs)) (.poll done 10 TimeUnit/SECONDS)) (recur (inc n)) n)))
              (str "every tasklet finished (" (.-name ^Node na) " with " (.-name ^Node nb) ")"))))
      ;; in a future: a deadlocked node could not be shut down, and the test must end
      (finally (deref (future (.shutdown x) (.shutdown y)) 10000 nil)))))

;; Deterministically: the same mutual race between two tasklets, explored over schedules, finishes in every interleaving (a deadlock would hang the run, not fail it: each run gets a bounded step count).
(deftest mutual-monitors-every-interleaving
  (when (tt/available?)
    (let [system (fn []
                   (let [me (self)
                         peer (fn []
                                (trap-exit! true)
                                (receive [:go p]
                                  (let [r (monitor p)]
                                    (link p)
                                    (demonitor r {:flush true})
                                    (unlink p)
                                    (! me [:done (self) (receive [:DOWN r :process _ _] :stray (after 0 :clean))]))))
                         a (spawn peer)
                         b (spawn peer)]
                     (! a [:go b])
                     (! b [:go a])
                     (sort [(receive [:done _ v] v) (receive [:done _ v] v)])))]
      (is (:pass? (tt/check-interleavings {:num-tests 100 :max-steps 5000 :quiet? true} system
                                          #(= [:clean :clean] %)))))))

(defn- lost-node-vs-demonitor
  "A monitor fired by a lost-node sweep (Signals/nodeLost, run by another
  tasklet) races the watcher's demonitor {:flush true}: once the sweep is
  over, no :DOWN for the ref may be left in the mailbox."
  []
  (let [me (self)
        v (spawn (fn [] (receive :stop nil)))
        r (monitor v)
        [sweeper sr] (t/spawn-monitor
                       (fn [] (Signals/nodeLost (NodeTable/resolve me)
                                                (reify Predicate (test [_ p] (= p v)))
                                                :noconnection)))
        _ (demonitor r {:flush true})]
    (receive [:DOWN sr :process _ _] nil)
    (! v :stop)
    (receive [:DOWN r :process _ _] :stray (after 0 :clean))))

;; demonitor with :flush against a monitor that a node loss fires: in every interleaving the :DOWN is either stopped (never delivered) or already in the mailbox to be flushed; it never lands after the flush.
(deftest demonitor-flush-vs-lost-node
  (when (tt/available?)
    (is (:pass? (tt/check-interleavings {:num-tests 150 :max-steps 5000 :quiet? true} lost-node-vs-demonitor
                                        #(= :clean %))))
    (let [trace-of #(tt/format-trace (:trace (tt/run-schedule {:choices %} lost-node-vs-demonitor)))]
      (is (not (re-find #"already fired" (trace-of []))) "carrying on, the demonitor stops the :DOWN")
      (is (re-find #"already fired" (trace-of [1 1])) "with the sweep first, the :DOWN is there to flush"))))

;; A monitor fires at most once, whichever causes race: the target's end and a lost-node sweep.
(deftest a-monitor-fires-once
  (when (tt/available?)
    (let [system (fn []
                   (let [me (self)
                         v (spawn (fn [] (receive :stop nil)))
                         r (monitor v)]
                     (spawn (fn [] (Signals/nodeLost (NodeTable/resolve me)
                                                     (reify Predicate (test [_ p] (= p v)))
                                                     :noconnection)))
                     (spawn (fn [] (t/exit v :kill)))
                     (receive [:DOWN r :process _ reason] nil)
                     (receive [:DOWN r :process _ _] :twice (after 100 :once))))]
      (is (:pass? (tt/check-interleavings {:num-tests 100 :max-steps 5000 :quiet? true} system #(= :once %)))))))

(defn- spawn-holding
  "Spawns a tasklet whose initial function holds a large array, and waits
  for it to end; returns [its pid, a weak reference to the function]."
  []
  (let [payload (byte-array (* 1024 1024))
        f (fn [] (alength payload))
        [p r] (t/spawn-monitor f)]
    (receive [:DOWN r :process _ _] nil)
    [p (WeakReference. f)]))

;; A pid kept after its tasklet ended retains neither the tasklet nor the function it was spawned with.
(deftest a-dead-pid-retains-no-closure
  (let [[^Pid p ^WeakReference w] (spawn-holding)
        copy (Pid. (.-node p) (.-serial p) (.-incarnation p))]
    (is (not (t/alive? p)))
    (is (nil? (NodeTable/resolve copy)) "a copy read back does not find it either")
    (is (loop [i 0]
          (System/gc)
          (cond (nil? (.get w)) true
                (= i 50) false
                :else (do (Thread/sleep 20) (recur (inc i)))))
        "the initial function became collectable")
    (is (= p copy) "the pid itself is still a value")))
