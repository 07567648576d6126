(ns tasklet.supervisor-test
  "tasklet.supervisor (doc/reference.md §3), named as OTP's supervisor_SUITE semantic
  matrix. Every test body runs as its own process that traps exits, in
  every mode of tasklet.harness/defsystest: as a fresh plain thread on the
  real node, then as a tasklet under the deterministic scheduler (virtual
  time) with the all-zeros schedule and several seeds. Children report to it
  ([:started id pid], [:stopping id reason], [:init id n pid], ...) and the
  tests synchronise on those messages and on monitors, never on sleeps. One
  rule makes which-children exact after a child ends: the test waits for the
  child's :DOWN, and the child's [:EXIT ...] to the supervisor was sent before
  that :DOWN, so it is handled before the test's next call."
  (:require [tasklet.harness :as h :refer [defsystest quiet-crash-reports]]
            [clojure.test :refer [is use-fixtures]]
            [clojure.test.check.clojure-test :refer [defspec]]
            [clojure.test.check.generators :as gen]
            [clojure.test.check.properties :as prop]
            [tasklet.core :as t :refer [! receive self]]
            [tasklet.server :as server]
            [tasklet.supervisor :as sup])
  (:import [clojure.lang ExceptionInfo]))

(set! *warn-on-reflection* true)

;; Every test here runs in every mode (none is normal-only), the property
;; `one-for-one-crash-schedules` included: each of its trials runs in each mode.

;; ---------------------------------------------------------------------------
;; Harness: tasklet.harness

(use-fixtures :once quiet-crash-reports)

(defn- await-down [mref]
  (receive [:DOWN mref :process _ r] r (after 10000 ::no-down)))

(defn- error-data
  "The ex-data of what (f) throws, or nil."
  [f]
  (try (f) nil (catch ExceptionInfo e (ex-data e))))

(defn- mailbox-empty? []
  (receive _ false (after 0 true)))

;; ---------------------------------------------------------------------------
;; Children

(defn worker
  "A plain child: reports [:started id pid], then exits with the reason it is
  sent as [:exit reason]."
  [owner id]
  (! owner [:started id (self)])
  (receive [:exit r] (t/exit r)))

(defn polite
  "A child that traps exits and reports the exit signal it stops for."
  [owner id]
  (t/trap-exit! true)
  (! owner [:started id (self)])
  (receive
    [:EXIT _ r] (do (! owner [:stopping id r]) (t/exit r))
    [:exit r] (t/exit r)))

(defn stubborn
  "A child that traps exits and ignores them: only :kill ends it."
  [owner id]
  (t/trap-exit! true)
  (! owner [:started id (self)])
  (loop []
    (receive [:EXIT _ r] (do (! owner [:ignored id r]) (recur)))))

(def probe
  "A server child that counts its starts (n, an atom), reports [:init id k
  pid], refuses to start when (fail-on k), reports :terminate, and exits
  with the reason it is sent as [:exit reason] (as `worker` does)."
  {:init (fn [{:keys [owner id n fail-on trap?] :as cfg}]
           (let [k (swap! n inc)]
             (when trap? (t/trap-exit! true))
             (! owner [:init id k (self)])
             (when (fail-on k) (throw (ex-info "init refused" {:id id :start k})))
             cfg))
   :handle-call (fn [req _ cfg] [:reply req cfg])
   :handle-info (fn [msg cfg]
                  (if (and (vector? msg) (= :exit (first msg))) (t/exit (second msg)) cfg))
   :terminate (fn [reason {:keys [owner id]}] (! owner [:terminated id reason]))})

(defn- probe-child [id & {:keys [fail-on trap?] :or {fail-on #{}}}]
  {:id id :start [server/run probe {:owner (self) :id id :n (atom 0) :fail-on fail-on :trap? trap?}]})

(defn- child [f id & {:as more}]
  (merge {:id id :start [f (self) id]} more))

(defn- started [id]
  (receive [:started id p] p (after 10000 ::not-started)))

(defn- inited [id]
  (receive [:init id k p] [k p] (after 10000 ::not-inited)))

(defn- pid-of [s id]
  (:pid (first (filter #(= id (:id %)) (sup/which-children s)))))

(defn- end-child!
  "End child pid: :kill from outside, else it exits itself with reason. Waits
  for its :DOWN and returns the exit reason."
  [pid reason]
  (let [m (t/monitor pid)]
    (if (= :kill reason) (t/exit pid :kill) (! pid [:exit reason]))
    (await-down m)))

(defn- one-exit
  "A one-child supervisor whose child (restart type restart) ends with reason.
  Returns [sup old-pid children-after]."
  [restart reason]
  (let [s (sup/start-link {:intensity 2 :period-ms 60000
                           :children [(child worker :c1 :restart restart)]})
        p1 (started :c1)]
    (end-child! p1 reason)
    [s p1 (sup/which-children s)]))

(defn- restarted? [p1 [c]]
  (and (= :c1 (:id c)) (some? (:pid c)) (not= p1 (:pid c)) (t/alive? (:pid c))
       (= (:pid c) (started :c1))))

;; ---------------------------------------------------------------------------
;; Restart types (OTP: normal_termination, shutdown_termination, abnormal_termination)

;; a permanent child that exits :normal is restarted.
(defsystest permanent-normal
  (let [[s p1 cs] (one-exit :permanent :normal)]
    (is (restarted? p1 cs))
    (is (= {:specs 1 :active 1 :supervisors 0 :workers 1} (sup/count-children s)))))

;; a permanent child that exits :shutdown or [:shutdown x] is restarted.
(defsystest permanent-shutdown
  (let [[s p1 cs] (one-exit :permanent :shutdown)]
    (is (restarted? p1 cs))
    (let [p2 (:pid (first cs))]
      (end-child! p2 [:shutdown :info])
      (is (restarted? p2 (sup/which-children s))))))

;; a permanent child that crashes or is killed is restarted.
(defsystest permanent-abnormal
  (let [[s p1 cs] (one-exit :permanent :boom)]
    (is (restarted? p1 cs))
    (let [p2 (:pid (first cs))]
      (is (= :killed (end-child! p2 :kill)))
      (is (restarted? p2 (sup/which-children s))))))

;; a transient child that exits :normal is not restarted; its spec stays.
(defsystest transient-normal
  (let [[s _ cs] (one-exit :transient :normal)]
    (is (= [{:id :c1 :pid nil :type :worker :restart :transient}] cs))
    (is (= {:specs 1 :active 0 :supervisors 0 :workers 1} (sup/count-children s)))))

;; a transient child that exits :shutdown or [:shutdown x] is not restarted; restart-child starts it again.
(defsystest transient-shutdown
  (let [[s _ cs] (one-exit :transient :shutdown)]
    (is (nil? (:pid (first cs))))
    (let [p2 (sup/restart-child s :c1)]
      (is (= p2 (started :c1)))
      (end-child! p2 [:shutdown :info])
      (is (= [nil] (map :pid (sup/which-children s)))))))

;; a transient child that crashes or is killed is restarted.
(defsystest transient-abnormal
  (let [[s p1 cs] (one-exit :transient :boom)]
    (is (restarted? p1 cs))
    (end-child! (:pid (first cs)) :kill)
    (is (restarted? (:pid (first cs)) (sup/which-children s)))))

;; a temporary child that exits :normal is never restarted, and its spec is forgotten.
(defsystest temporary-normal
  (let [[s _ cs] (one-exit :temporary :normal)]
    (is (= [] cs))
    (is (= {:specs 0 :active 0 :supervisors 0 :workers 0} (sup/count-children s)))))

;; a temporary child that exits :shutdown is forgotten; the same spec can be started again.
(defsystest temporary-shutdown
  (let [[s _ cs] (one-exit :temporary :shutdown)]
    (is (= [] cs))
    (let [p (sup/start-child s (child worker :c1 :restart :temporary))]
      (is (= p (started :c1)))
      (end-child! p [:shutdown :info])
      (is (= [] (sup/which-children s))))))

;; a temporary child that crashes is forgotten.
(defsystest temporary-abnormal
  (let [[s _ cs] (one-exit :temporary :boom)]
    (is (= [] cs))
    (is (= 0 (:specs (sup/count-children s))))))

;; a temporary child stopped by a sibling's :one-for-all or :rest-for-one restart is not restarted.
(defsystest temporary-bystander
  (doseq [strategy [:one-for-all :rest-for-one]]
    (let [s (sup/start-link {:strategy strategy
                             :children [(child worker :c1) (child polite :c2 :restart :temporary)]})
          p1 (started :c1)
          _ (started :c2)]
      (end-child! p1 :boom)
      (is (= [:stopping :c2 :shutdown] (receive [:stopping :c2 r] [:stopping :c2 r] (after 10000 nil))))
      (is (= [:c1] (map :id (sup/which-children s))) (str strategy))
      (is (= (pid-of s :c1) (started :c1))))))

;; ---------------------------------------------------------------------------
;; Strategies and intensity

;; :one-for-one restarts only the child that ended; one restart too many ends the supervisor with :shutdown.
(defsystest one-for-one
  (let [s (sup/start-link {:strategy :one-for-one :intensity 2 :period-ms 60000
                           :children [(child worker :c1) (child worker :c2)]})
        smon (t/monitor s)
        p1 (started :c1)
        p2 (started :c2)]
    (end-child! p1 :boom)
    (let [cs (sup/which-children s)]
      (is (restarted? p1 [(first cs)]))
      (is (= p2 (:pid (second cs))) "the other child kept running"))
    (end-child! p2 :boom)
    (started :c2)
    (end-child! (pid-of s :c1) :boom)
    (is (= :shutdown (await-down smon)) "third restart within the period: more than :intensity 2")
    (is (= :shutdown (receive [:EXIT s r] r (after 0 nil))) "its parent sees :shutdown")))

;; a child whose restart keeps failing escalates: the failed restarts count until the supervisor ends, stopping its other children.
(defsystest one-for-one-escalation
  (let [s (sup/start-link {:intensity 4 :period-ms 60000
                           :children [(probe-child :c1 :fail-on #(> % 1)) (child polite :c2)]})
        smon (t/monitor s)
        [_ p1] (inited :c1)]
    (started :c2)
    (t/exit p1 :kill)
    (is (= :shutdown (await-down smon)))
    (is (= [2 3 4 5] (map first (repeatedly 4 #(inited :c1)))) "four failed restarts, then over the intensity")
    (is (= :shutdown (receive [:stopping :c2 r] r (after 0 nil))))))

;; :one-for-all stops the other children (with :shutdown) and restarts all, in order.
(defsystest one-for-all
  (let [s (sup/start-link {:strategy :one-for-all :intensity 2 :period-ms 60000
                           :children [(child polite :c1) (child polite :c2)]})
        smon (t/monitor s)
        p1 (started :c1)
        p2 (started :c2)]
    (end-child! p1 :boom)
    (is (= :shutdown (receive [:stopping :c2 r] r (after 10000 nil))))
    (let [q1 (started :c1)
          q2 (started :c2)]
      (is (= [q1 q2] (map :pid (sup/which-children s))))
      (is (not-any? t/alive? [p1 p2]))
      (end-child! q2 :boom)
      (started :c1)
      (started :c2)
      (end-child! (pid-of s :c1) :boom)
      (is (= :shutdown (await-down smon))))))

;; under :one-for-all a sibling whose restart fails escalates until the supervisor ends.
(defsystest one-for-all-escalation
  (let [s (sup/start-link {:strategy :one-for-all :intensity 4 :period-ms 60000
                           ;; c1 a server: a plain child counts as started once spawned, so the
                           ;; next restart could stop it before it ever ran and reported
                           :children [(probe-child :c1) (probe-child :c2 :fail-on #(> % 1))]})
        smon (t/monitor s)
        [_ p1] (inited :c1)]
    (inited :c2)
    (end-child! p1 :boom)
    (is (= :shutdown (await-down smon)))
    (is (= [2 3 4 5] (map first (repeatedly 4 #(inited :c2)))))
    (let [c1s (doall (repeatedly 4 #(inited :c1)))]
      (is (= [2 3 4 5] (map first c1s)) "c1 restarted before each of c2's restarts")
      (is (not-any? t/alive? (map second c1s)) "every c1 started on the way was stopped"))))

;; under :one-for-all, when a sibling fails to restart, the already restarted child is stopped (:shutdown) and all restart again.
(defsystest one-for-all-other-child-fails-restart
  (let [s (sup/start-link {:strategy :one-for-all :intensity 3 :period-ms 60000
                           :children [(probe-child :c1 :trap? true) (probe-child :c2 :fail-on #{2})]})
        [_ p1] (inited :c1)]
    (inited :c2)
    (t/exit p1 :kill)
    (let [[k1 p1b] (inited :c1)]
      (is (= 2 k1))
      (is (= 2 (first (inited :c2))) "c2's restart fails")
      (is (= :shutdown (receive [:terminated :c1 r] r (after 10000 nil))) "the restarted c1 is stopped")
      (let [[k1' p1c] (inited :c1)
            [k2 p2c] (inited :c2)]
        (is (= [3 3] [k1' k2]))
        (is (not (t/alive? p1b)))
        (is (= [p1c p2c] (map :pid (sup/which-children s))))))))

;; :rest-for-one stops and restarts the children started after the one that ended, and only them.
(defsystest rest-for-one
  (let [s (sup/start-link {:strategy :rest-for-one :intensity 2 :period-ms 60000
                           :children [(child polite :c1) (child polite :c2) (child polite :c3)]})
        smon (t/monitor s)
        p1 (started :c1)
        p2 (started :c2)
        p3 (started :c3)]
    (end-child! p2 :boom)
    (is (= :shutdown (receive [:stopping :c3 r] r (after 10000 nil))))
    (let [q2 (started :c2)
          q3 (started :c3)]
      (is (= [p1 q2 q3] (map :pid (sup/which-children s))))
      (is (not-any? t/alive? [p2 p3]))
      (end-child! q3 :boom)
      (is (= [p1 q2 (started :c3)] (map :pid (sup/which-children s))))
      (end-child! q2 :boom)
      (is (= :shutdown (await-down smon))))))

;; under :rest-for-one a later child whose restart fails escalates until the supervisor ends.
(defsystest rest-for-one-escalation
  (let [s (sup/start-link {:strategy :rest-for-one :intensity 4 :period-ms 60000
                           :children [(child worker :c1) (probe-child :c2 :fail-on #(> % 1))]})
        smon (t/monitor s)
        p1 (started :c1)]
    (inited :c2)
    (end-child! p1 :boom)
    (is (= :shutdown (await-down smon)))
    (is (= [2 3 4 5] (map first (repeatedly 4 #(inited :c2)))))))

;; under :rest-for-one, when a later child fails to restart, only it is retried: the restarted earlier child keeps running.
(defsystest rest-for-one-other-child-fails-restart
  (let [s (sup/start-link {:strategy :rest-for-one :intensity 3 :period-ms 60000
                           :children [(child polite :c1) (probe-child :c2 :fail-on #{2})]})
        p1 (started :c1)]
    (inited :c2)
    (end-child! p1 :boom)
    (let [p1b (started :c1)]
      (is (= 2 (first (inited :c2))))
      (let [[k p2c] (inited :c2)]
        (is (= 3 k))
        (is (= [p1b p2c] (map :pid (sup/which-children s))) "c1 was not restarted again")
        (is (t/alive? p1b))))))

;; more than :intensity restarts within :period-ms: the children are stopped, then the supervisor exits :shutdown; :intensity 0 allows none.
(defsystest intensity-exceeded
  (let [s (sup/start-link {:intensity 2 :period-ms 60000
                           :children [(child worker :c1) (child polite :c2)]})
        smon (t/monitor s)]
    (started :c2)
    (dotimes [_ 2] (end-child! (started :c1) :boom))
    (is (t/alive? s))
    (end-child! (started :c1) :boom)
    (is (= :shutdown (receive [:stopping :c2 r] r (after 10000 nil))) "children first")
    (is (= :shutdown (await-down smon))))
  (let [s (sup/start-link {:intensity 0 :children [(child worker :c1)]})
        smon (t/monitor s)]
    (end-child! (started :c1) :normal)
    (is (= :shutdown (await-down smon)))))

;; restarts further apart than :period-ms do not add up.
(defsystest intensity-period-expires
  (let [s (sup/start-link {:intensity 1 :period-ms 100 :children [(child worker :c1)]})]
    (end-child! (started :c1) :boom)
    (let [p2 (started :c1)]
      ;; letting the period pass (not synchronisation: every step is awaited by message)
      (receive (after 150 nil))
      (end-child! p2 :boom)
      (is (restarted? p2 (sup/which-children s))))))

;; ---------------------------------------------------------------------------
;; Starting and stopping

;; children start in order (each once the one before has started) and stop in reverse order, each with the exit signal :shutdown.
(defsystest start-order-reverse-shutdown
  (let [s (sup/start-link {:children (mapv #(probe-child % :trap? true) [:c1 :c2 :c3])})
        smon (t/monitor s)]
    (is (= [:c1 :c2 :c3] (repeatedly 3 #(receive [:init id _ _] id (after 0 nil))))
        "all three :init ran, in order, before start-link returned")
    (t/exit s :shutdown)
    (is (= [[:c3 :shutdown] [:c2 :shutdown] [:c1 :shutdown]]
           (repeatedly 3 #(receive [:terminated id r] [id r] (after 10000 nil)))))
    (is (= :shutdown (await-down smon)))))

;; a child that ignores :shutdown is killed after its :shutdown ms.
(defsystest shutdown-timeout-kill
  (let [s (sup/start-link {:children [(child stubborn :c1 :shutdown 50)]})
        p (started :c1)
        m (t/monitor p)]
    (t/exit s :shutdown)
    (is (= [:ignored :c1 :shutdown] (receive [:ignored :c1 r] [:ignored :c1 r] (after 10000 nil))))
    (is (= :killed (await-down m)))))

;; :brutal-kill kills at once: the child never sees :shutdown.
(defsystest shutdown-brutal-kill
  (let [s (sup/start-link {:children [(child polite :c1 :shutdown :brutal-kill)]})
        p (started :c1)
        m (t/monitor p)]
    (t/exit s :shutdown)
    (is (= :killed (await-down m)))
    (is (= :none (receive [:stopping :c1 _] :stopping (after 0 :none))) "it never saw :shutdown")))

;; :shutdown :infinity waits for the child however long it takes.
(defsystest shutdown-infinity
  (let [s (sup/start-link {:children [(child polite :c1 :shutdown :infinity)]})
        p (started :c1)
        m (t/monitor p)]
    (t/exit s :shutdown)
    (is (= :shutdown (receive [:stopping :c1 r] r (after 10000 nil))))
    (is (= :shutdown (await-down m)))))

;; a nested supervisor ([sup/run spec]) restarts its own children; past its intensity it ends and its parent restarts it afresh.
(defsystest tree
  (let [inner {:intensity 1 :period-ms 60000 :children [(child worker :c1) (child polite :c2)]}
        s (sup/start-link {:intensity 4 :period-ms 60000
                           :children [{:id :inner :start [sup/run inner]} (child worker :w)]})
        w (started :w)
        i1 (pid-of s :inner)
        p1 (started :c1)]
    (started :c2)
    (is (= [{:id :inner :pid i1 :type :supervisor :restart :permanent}
            {:id :w :pid w :type :worker :restart :permanent}]
           (sup/which-children s)))
    (end-child! p1 :boom)
    (let [p1b (started :c1)]
      (is (= p1b (pid-of i1 :c1)) "the inner supervisor restarted its child")
      (is (= [i1 w] (map :pid (sup/which-children s))))
      (let [m (t/monitor i1)]
        (end-child! p1b :boom)
        (is (= :shutdown (await-down m)) "past its intensity the inner supervisor ends")
        (is (= :shutdown (receive [:stopping :c2 r] r (after 10000 nil)))))
      (let [[i2 w2] (map :pid (sup/which-children s))]
        (is (and (some? i2) (not= i1 i2)) "the outer supervisor restarted it")
        (is (= w w2))
        (is (= [(started :c1) (started :c2)] (map :pid (sup/which-children i2))))))))

;; malformed specs are refused with :badarg naming the key, before anything starts.
(defsystest child-spec-badarg
  (let [good (probe-child :good)
        cases [[{:children [good {:start [worker]}]} :id]
               [{:children [good {:id nil :start [worker]}]} :id]
               [{:children [good (child worker :good)]} :id]
               [{:children [good {:id :x}]} :start]
               [{:children [good {:id :x :start worker}]} :start]
               [{:children [good {:id :x :start []}]} :start]
               [{:children [good {:id :x :start [42]}]} :start]
               [{:children [good (child worker :x :restart :sometimes)]} :restart]
               [{:children [good (child worker :x :shutdown -1)]} :shutdown]
               [{:children [good (child worker :x :shutdown :never)]} :shutdown]
               [{:children [good (child worker :x :type :boss)]} :type]
               [{:children [good :not-a-map]} :children]
               [{:strategy :one-for-none :children [good]} :strategy]
               [{:intensity -1 :children [good]} :intensity]
               [{:period-ms 0 :children [good]} :period-ms]
               [{:children good} :children]
               [[:not-a-map] :spec]
               [{:children [good {:id :inner :start [sup/run {:children [good {:id :y :restart :x :start [worker]}]}]}]} :restart]]]
    (doseq [[spec k] cases]
      (is (= {:tasklet/error :badarg :key k} (select-keys (error-data #(sup/start-link spec)) [:tasklet/error :key]))
          (pr-str spec)))
    (is (mailbox-empty?) "no child started")
    (let [s (sup/start-link {})]
      (is (= {:tasklet/error :badarg :key :restart}
             (select-keys (error-data #(sup/start-child s (child worker :x :restart :never))) [:tasklet/error :key])))
      (is (= [] (sup/which-children s))))))

;; a child that fails to start stops the children started before it (last first); start-link throws a report naming it, which is also the supervisor's exit reason.
(defsystest child-start-fails
  (let [e (try (sup/start-link {:children [(probe-child :c1 :trap? true) (probe-child :c2 :fail-on #{1})
                                           (child worker :c3)]})
               nil
               (catch ExceptionInfo e e))]
    (is (= {:tasklet/error :failed-to-start-child :id :c2}
           (select-keys (ex-data e) [:tasklet/error :id])))
    (is (= "init refused" (ex-message (ex-cause e))))
    (is (identical? (ex-cause e) (:reason (ex-data e))))
    (let [[_ p1] (inited :c1)
          [_ p2] (inited :c2)]
      (is (= :shutdown (receive [:terminated :c1 r] r (after 10000 nil))) "c1 was stopped")
      (is (not-any? t/alive? [p1 p2])))
    (is (mailbox-empty?) "c3 never started, and no [:EXIT ...] reached the caller")))

;; start-child, terminate-child, restart-child, delete-child and count-children, with their errors.
(defsystest child-admin
  (let [s (sup/start-link {})
        err #(:tasklet/error (error-data %))
        a (sup/start-child s (child worker :a))]
    (is (= a (started :a)))
    (is (= :badarg (err #(sup/start-child s (child worker :a)))) "duplicate id")
    (is (= :failed-to-start-child (err #(sup/start-child s (probe-child :bad :fail-on #{1})))))
    (inited :bad)
    (is (= [:a] (map :id (sup/which-children s))) "a failed child's spec is not kept")
    (is (= :running (err #(sup/delete-child s :a))))
    (is (= :running (err #(sup/restart-child s :a))))
    (is (true? (sup/terminate-child s :a)))
    (is (not (t/alive? a)))
    (is (= {:specs 1 :active 0 :supervisors 0 :workers 1} (sup/count-children s)))
    (let [a2 (sup/restart-child s :a)]
      (is (= a2 (started :a)))
      (is (= [a2] (map :pid (sup/which-children s)))))
    (is (true? (sup/terminate-child s :a)))
    (is (true? (sup/terminate-child s :a)) "already stopped")
    (is (true? (sup/delete-child s :a)))
    (is (= [] (sup/which-children s)))
    (doseq [f [sup/terminate-child sup/restart-child sup/delete-child]]
      (is (= :not-found (err #(f s :a)))))
    (let [inner (sup/start-child s {:id :inner :start [sup/run {}]})]
      (is (= {:specs 1 :active 1 :supervisors 1 :workers 0} (sup/count-children s)))
      (is (= [] (sup/which-children inner))))
    (is (mailbox-empty?))))

;; a supervised, named gen-server that crashes comes back under its name with a fresh state.
(defsystest supervised-server
  (let [impl {:init (fn [n] n)
              :handle-call (fn [req _ n]
                             (case req
                               :inc [:reply (inc n) (inc n)]
                               :crash (throw (ex-info "crash" {}))))}
        s (sup/start-link {:children [{:id :counter :start [server/run impl 10 {:name ::counter}]}]})
        p1 (t/whereis ::counter)]
    (is (= 11 (server/call ::counter :inc)))
    (is (= "crash" (ex-message (ex-cause (try (server/call ::counter :crash) (catch Exception e e))))))
    (let [p2 (pid-of s :counter)]
      (is (and (some? p2) (not= p1 p2)))
      (is (= p2 (t/whereis ::counter)))
      (is (= 11 (server/call ::counter :inc))))))

;; ---------------------------------------------------------------------------
;; The property: random crash schedules against a :one-for-one supervisor

(defn prop-worker
  "A child that exits as it is told: [:exit reason], :throw meaning an exception."
  []
  (receive [:exit r] (if (= :throw r) (throw (ex-info "thrown" {})) (t/exit r))))

(defn- restarts-on?
  "The model: does a child of this restart type come back after reason?"
  [restart reason]
  (case restart
    :permanent true
    :temporary false
    :transient (not (#{:normal :shutdown} reason))))

(defn- as-modelled?
  "Does which-children agree with the model: every child not gone runs (on a
  live pid), a gone transient child has a nil pid, a gone temporary one is
  absent?"
  [children types gone]
  (let [by-id (into {} (map (juxt :id identity)) children)]
    (every? (fn [i]
              (let [c (by-id i)]
                (cond
                  (not (gone i)) (boolean (and c (:pid c) (t/alive? (:pid c))))
                  (= :temporary (types i)) (nil? c)
                  :else (and c (nil? (:pid c))))))
            (range (count types)))))

(defn- run-schedule
  "Start a :one-for-one supervisor over children of restart types, then end
  them by schedule [[child-index reason] ...], one at a time, awaiting each.
  Returns :ok when after every step the supervisor and its children are as
  the model says, and the supervisor exits :shutdown exactly at the step where
  restarts exceed intensity; otherwise a keyword saying what went wrong."
  [types intensity schedule]
  (let [n (count types)
        s (sup/start-link {:strategy :one-for-one :intensity intensity :period-ms 600000
                           :children (vec (map-indexed (fn [i r] {:id i :restart r :start [prop-worker]})
                                                       types))})
        smon (t/monitor s)]
    (loop [steps schedule restarts 0 gone #{}]
      (let [children (sup/which-children s)]
        (cond
          (not (as-modelled? children types gone)) :children-not-as-modelled
          (empty? steps) :ok
          :else
          (let [[k reason] (first steps)
                i (mod k n)]
            (if (gone i)
              (recur (rest steps) restarts gone)
              (let [pid (:pid (first (filter #(= i (:id %)) children)))
                    m (t/monitor pid)]
                (if (= :kill reason) (t/exit pid :kill) (! pid [:exit reason]))
                (await-down m)
                (let [back? (restarts-on? (types i) reason)
                      restarts (cond-> restarts back? inc)
                      gone (cond-> gone (not back?) (conj i))]
                  (if (> restarts intensity)
                    (if (and (= :shutdown (await-down smon))
                             (not-any? #(some-> (:pid %) t/alive?) children))
                      :ok
                      :no-shutdown-when-exceeded)
                    (recur (rest steps) restarts gone)))))))))))

;; random crash schedules against a :one-for-one tree: permanent children are always back, and the supervisor exits :shutdown exactly when restarts exceed :intensity.
(defspec one-for-one-crash-schedules 40
  (prop/for-all [types (gen/vector (gen/elements [:permanent :transient :temporary]) 1 4)
                 intensity (gen/choose 0 4)
                 schedule (gen/vector (gen/tuple gen/nat (gen/elements [:normal :shutdown :boom :kill :throw]))
                                      0 12)]
    (every? (fn [mode]
              (let [r (h/run-system mode #(run-schedule types intensity schedule))]
                ;; thrown rather than false, so that the report names the mode
                (or (= :ok r) (throw (ex-info (str r " in " (h/mode-label mode)) {:outcome r :mode mode})))))
            (h/modes))))
