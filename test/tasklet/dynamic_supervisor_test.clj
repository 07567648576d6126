(ns tasklet.dynamic-supervisor-test
  "tasklet.supervisor's :simple-one-for-one strategy (doc/reference.md §7, OTP's
  simple_one_for_one) and the supervisor's sys protocol. As in
  tasklet.supervisor-test, each defsystest body runs as a fresh process that
  traps exits, normally and under the deterministic scheduler (virtual
  time); children report to it and the tests synchronise on those messages
  and on monitors. The 20,000-children test runs in normal mode only."
  (:require [tasklet.harness :as h :refer [defsystest quiet-crash-reports]]
            [clojure.test :refer [deftest is use-fixtures]]
            [clojure.test.check.clojure-test :refer [defspec]]
            [clojure.test.check.generators :as gen]
            [clojure.test.check.properties :as prop]
            [tasklet.core :as t :refer [! receive self]]
            [tasklet.server :as server]
            [tasklet.supervisor :as sup])
  (:import [clojure.lang ExceptionInfo]))

(set! *warn-on-reflection* true)

(use-fixtures :once quiet-crash-reports)

(defn- await-down [mref]
  (receive [:DOWN mref :process _ r] r (after 10000 ::no-down)))

(defn- error-data [f]
  (try (f) nil (catch ExceptionInfo e (ex-data e))))

(defn- err [f] (:tasklet/error (error-data f)))

(defn dyn-worker
  "A dynamic child: reports [:started extra pid] with its base and extra
  args, then exits with the reason it is sent as [:exit reason]."
  [owner base extra]
  (! owner [:started [base extra] (self)])
  (receive [:exit r] (t/exit r)))

(defn stubborn
  "Traps exits and ignores them: only :kill ends it."
  [owner extra]
  (t/trap-exit! true)
  (! owner [:started extra (self)])
  (loop [] (receive [:EXIT _ _] (recur))))

(def probe
  "A server child whose :init fails while (fail? n) for its n-th start."
  {:init (fn [[owner n fail?]]
           (let [k (swap! n inc)]
             (! owner [:init k (self)])
             (when (fail? k) (throw (ex-info "init refused" {:start k})))
             :ok))})

(defn- started [extra]
  (receive [:started [:base extra] p] p (after 10000 ::not-started)))

(defn- dyn-sup [& {:as opts}]
  (sup/start-link (merge {:strategy :simple-one-for-one :intensity 3 :period-ms 60000
                          :children [(merge {:id :w :start [dyn-worker (self) :base]}
                                            (:child opts))]}
                         (dissoc opts :child))))

(defn- end-child! [pid reason]
  (let [m (t/monitor pid)]
    (if (= :kill reason) (t/exit pid :kill) (! pid [:exit reason]))
    (await-down m)))

(defn- pids [s] (set (map :pid (sup/which-children s))))

;; ---------------------------------------------------------------------------
;; Starting, restarting, stopping

;; start-child runs (apply f base-args extra-args); the children are listed without ids and counted.
(defsystest dynamic-start-child
  (let [s (dyn-sup)
        a (sup/start-child s [1])
        b (sup/start-child s [2])]
    (is (= a (started 1)))
    (is (= b (started 2)))
    (is (= #{{:id nil :pid a :type :worker :restart :permanent}
             {:id nil :pid b :type :worker :restart :permanent}}
           (set (sup/which-children s))))
    (is (= {:specs 1 :active 2 :supervisors 0 :workers 2} (sup/count-children s)))))

;; a permanent dynamic child is restarted with the same extra args, whatever its reason.
(defsystest dynamic-permanent-restart
  (let [s (dyn-sup)
        a (sup/start-child s [:a])]
    (started :a)
    (doseq [reason [:normal :boom :kill]]
      (let [old (first (pids s))]
        (end-child! old reason)
        (let [new (started :a)]
          (is (not= old new))
          (is (= #{new} (pids s)) (str reason)))))
    (is (not (t/alive? a)))))

;; transient children come back only after an abnormal exit; temporary ones never; both are forgotten.
(defsystest dynamic-transient-temporary
  (doseq [restart [:transient :temporary]]
    (let [s (dyn-sup :child {:restart restart} :intensity 10)
          a (sup/start-child s [:a])]
      (started :a)
      (end-child! a :normal)
      (is (= #{} (pids s)) (str restart " :normal"))
      (let [b (sup/start-child s [:b])]
        (started :b)
        (end-child! b :boom)
        (if (= :transient restart)
          (is (not= b (started :b)))
          (is (= #{} (pids s)) ":temporary :boom"))))))

;; past :max-children start-child throws :max-children; a slot frees when a child ends.
(defsystest dynamic-max-children
  (let [s (dyn-sup :max-children 2 :child {:restart :temporary})
        a (sup/start-child s [1])]
    (sup/start-child s [2])
    (let [d (error-data #(sup/start-child s [3]))]
      (is (= {:tasklet/error :max-children :max-children 2} d)))
    (end-child! a :normal)
    (is (t/pid? (sup/start-child s [4])))
    (is (= 2 (:active (sup/count-children s))))))

;; more than :intensity restarts within :period-ms ends the supervisor with :shutdown, stopping the other children.
(defsystest dynamic-intensity
  (let [s (dyn-sup :intensity 2)
        smon (t/monitor s)
        a (sup/start-child s [:a])
        b (sup/start-child s [:b])]
    (started :a) (started :b)
    (end-child! a :boom)
    (end-child! (started :a) :boom)
    (let [bm (t/monitor b)]
      (end-child! (started :a) :boom)
      (is (= :shutdown (await-down smon)))
      (is (= :shutdown (await-down bm)) "the other child was stopped"))))

;; a failed restart is kept (with :pid nil), retried and counted; past the intensity the supervisor ends.
(defsystest dynamic-failed-restart
  (let [n (atom 0)
        s (sup/start-link {:strategy :simple-one-for-one :intensity 3 :period-ms 60000
                           :children [{:id :p :start [server/run probe]}]})
        smon (t/monitor s)
        p1 (sup/start-child s [[(self) n #(= 2 %)]])]
    (receive [:init 1 _] nil)
    (t/exit p1 :kill)
    (receive [:init 2 _] nil)
    (let [[_ p3] (receive [:init 3 p] [3 p])]
      (is (= #{p3} (pids s)) "the retry succeeded")
      (is (= {:specs 1 :active 1 :supervisors 0 :workers 1} (sup/count-children s))))
    (let [s2 (sup/start-link {:strategy :simple-one-for-one :intensity 2 :period-ms 60000
                              :children [{:id :p :start [server/run probe]}]})
          m2 (t/monitor s2)
          n2 (atom 0)
          q (sup/start-child s2 [[(self) n2 #(> % 1)]])]
      (receive [:init 1 _] nil)
      (t/exit q :kill)
      (is (= :shutdown (await-down m2)) "failed restarts count as restarts")
      (is (= [2 3] (map first (repeatedly 2 #(receive [:init k _] [k]))))))
    (is (t/alive? s))
    (t/demonitor smon)))

;; terminate-child takes a pid; ids do not exist for this strategy.
(defsystest dynamic-terminate-child
  (let [s (dyn-sup :child {:shutdown :brutal-kill})
        a (sup/start-child s [:a])
        b (sup/start-child s [:b])]
    (started :a) (started :b)
    (is (true? (sup/terminate-child s a)))
    (is (not (t/alive? a)))
    (is (= #{b} (pids s)) "not restarted")
    (is (= :not-found (err #(sup/terminate-child s a))))
    (is (= :not-found (err #(sup/terminate-child s :w))))
    (is (= :simple-one-for-one (err #(sup/restart-child s :w))))
    (is (= :simple-one-for-one (err #(sup/delete-child s :w))))
    (is (= :badarg (err #(sup/start-child s {:id :x :start [dyn-worker]}))))
    (is (= :badarg (err #(sup/start-child s :not-args))))))

;; on the way out every child is stopped at once: stubborn children are all killed after one :shutdown period, not one each.
(defsystest dynamic-shutdown-concurrent
  (let [s (sup/start-link {:strategy :simple-one-for-one
                           :children [{:id :s :start [stubborn (self)] :shutdown 1000}]})
        cs (mapv #(sup/start-child s [%]) (range 3))
        ms (mapv t/monitor cs)
        smon (t/monitor s)]
    (dotimes [i 3] (receive [:started i _] nil))
    (let [t0 (t/monotonic-ms)]
      (t/exit s :shutdown)
      (is (= :shutdown (await-down smon)))
      (let [dt (- (t/monotonic-ms) t0)]
        (is (<= 1000 dt 2500) (str "took " dt " ms"))))
    (is (= [:killed :killed :killed] (mapv await-down ms)))))

;; malformed :simple-one-for-one specs are refused with :badarg naming the key.
(defsystest dynamic-spec-badarg
  (let [c {:id :w :start [dyn-worker]}]
    (doseq [[spec k] [[{:strategy :simple-one-for-one :children []} :children]
                      [{:strategy :simple-one-for-one :children [c (assoc c :id :v)]} :children]
                      [{:strategy :simple-one-for-one :children [c] :max-children -1} :max-children]
                      [{:strategy :one-for-one :children [c] :max-children 3} :max-children]]]
      (is (= {:tasklet/error :badarg :key k}
             (select-keys (error-data #(sup/start-link spec)) [:tasklet/error :key]))
          (pr-str spec))))
  (let [s (sup/start-link {})]
    (is (= :badarg (err #(sup/start-child s [1]))) "a static supervisor takes a spec map")))

;; ---------------------------------------------------------------------------
;; sys

(defn- sys-call [dest request]
  (let [tag (t/make-ref)
        m (t/monitor dest)]
    (! dest [:tasklet/system {:pid (self) :tag tag} request])
    (receive [tag v] (do (t/demonitor m {:flush true}) v)
             [:DOWN m :process _ r] [::down r]
             (after 5000 ::timeout))))

;; get-state and replace-state see the state as a plain map; a throwing or bad replace keeps it.
(defsystest sys-state
  (let [s (dyn-sup)
        a (sup/start-child s [:a])
        [ok st] (sys-call s :get-state)]
    (is (= :ok ok))
    (is (= :simple-one-for-one (:strategy st)))
    (is (= {a [:a]} (:children st)))
    (is (= 3 (:intensity st)))
    (is (= [:ok (assoc st :intensity 7)] (sys-call s [:replace-state #(assoc % :intensity 7)])))
    (is (= 7 (:intensity (second (sys-call s :get-state)))))
    (let [[e x] (sys-call s [:replace-state (fn [_] (throw (ex-info "no" {})))])]
      (is (= [:error "no"] [e (ex-message x)])))
    (is (= [:error :badarg] (update (sys-call s [:replace-state (fn [_] 42)]) 1 (comp :tasklet/error ex-data))))
    (is (= [:error :badarg] (update (sys-call s :bogus) 1 (comp :tasklet/error ex-data))))
    (is (= 7 (:intensity (second (sys-call s :get-state)))))
    (is (= #{a} (pids s)) "still supervising")))

;; while suspended a supervisor answers only sys; a call waits until :resume.
(defsystest sys-suspend-resume
  (let [s (dyn-sup)
        me (self)]
    (is (= [:ok :ok] (sys-call s :suspend)))
    (t/spawn (fn [] (! me [:counted (sup/count-children s)])))
    (is (= ::waiting (receive [:counted _] ::answered (after 500 ::waiting))))
    (is (= :ok (first (sys-call s :get-state))) "sys still answered")
    (is (= [:ok :ok] (sys-call s :resume)))
    (is (= {:specs 1 :active 0 :supervisors 0 :workers 0}
           (receive [:counted c] c (after 5000 ::timeout))))))

;; a suspended supervisor still stops when its parent ends, stopping its children.
(defsystest sys-suspended-parent-exit
  (let [me (self)
        parent (t/spawn (fn []
                          (let [s (dyn-sup)]
                            (! me [:sup s (sup/start-child s [:a])])
                            (receive :never nil))))
        [s a] (receive [:sup s a] [s a])
        sm (t/monitor s)
        am (t/monitor a)]
    (is (= [:ok :ok] (sys-call s :suspend)))
    (t/exit parent :boom)
    (is (= :boom (await-down sm)))
    (is (= :shutdown (await-down am)))))

;; statistics count the messages handled (not system ones), on the node's clock.
(defsystest sys-statistics
  (let [s (sup/start-link {:strategy :one-for-one})
        [_ s1] (sys-call s :statistics)]
    (sup/count-children s)
    (sup/which-children s)
    (let [[ok s2] (sys-call s :statistics)]
      (is (= :ok ok))
      (is (= #{:start-ms :now-ms :messages-in} (set (keys s2))))
      (is (= 2 (- (:messages-in s2) (:messages-in s1))))
      (is (= (:start-ms s1) (:start-ms s2)))
      (is (<= (:start-ms s2) (:now-ms s2) (t/monotonic-ms))))
    (is (not (contains? (second (sys-call s :get-state)) :tasklet.impl.supervisor-sys/sys)))))

;; ---------------------------------------------------------------------------
;; Many children (normal mode only: 20,000 tasklets)

(defn idle [] (receive :never nil))

;; 20,000 children: counted and listed exactly, restarted by pid, all stopped when the supervisor ends.
(deftest twenty-thousand-children
  (h/run-in-process
    (fn []
      (let [n 20000
            s (sup/start-link {:strategy :simple-one-for-one :intensity 10
                               :children [{:id :i :start [idle] :shutdown :brutal-kill}]})
            cs (vec (repeatedly n #(sup/start-child s [])))]
        (is (= {:specs 1 :active n :supervisors 0 :workers n} (sup/count-children s)))
        (is (= (set cs) (pids s)))
        (is (= n (count (sup/which-children s))))
        (let [victim (cs 12345)]
          (end-child! victim :kill)
          (let [now (pids s)]
            (is (= n (count now)))
            (is (not (contains? now victim)))))
        (let [sm (t/monitor s)
              live (vec (pids s))]
          (t/exit s :shutdown)
          (is (= :shutdown (receive [:DOWN sm :process _ r] r (after 30000 ::timeout))))
          (is (not-any? t/alive? live)))))))

;; ---------------------------------------------------------------------------
;; The property: random start/end/terminate sequences against a model

(defn prop-worker [extra]
  (receive [:exit r] (if (= :throw r) (throw (ex-info "thrown" {})) (t/exit r))))

(defn- restarts-on? [restart reason]
  (case restart
    :permanent true
    :temporary false
    :transient (not (#{:normal :shutdown} reason))))

(defn- run-ops
  "Apply ops to a :simple-one-for-one supervisor of restart type `restart`
  and to a model (the set of the extra args of the running children, and the
  restart count); after each op the supervisor's children (their extra args,
  from get-state) must equal the model's, and the supervisor must end with
  :shutdown exactly when restarts exceed intensity. Returns :ok or what went wrong."
  [restart intensity max-children ops]
  (let [s (sup/start-link {:strategy :simple-one-for-one :intensity intensity :period-ms 600000
                           :max-children max-children
                           :children [{:id :p :start [prop-worker] :restart restart}]})
        smon (t/monitor s)
        args-of (fn [] (into {} (map (fn [[p [x]]] [x p])) (:children (second (sys-call s :get-state)))))]
    (loop [ops ops model #{} restarts 0 next-arg 0]
      (let [actual (args-of)]
        (cond
          (not= model (set (keys actual))) [:children-not-as-modelled model actual]
          (empty? ops) :ok
          :else
          (let [[op k reason] (first ops)]
            (case op
              :start (if (>= (count model) max-children)
                       (if (= :max-children (err #(sup/start-child s [next-arg])))
                         (recur (rest ops) model restarts (inc next-arg))
                         :max-children-not-refused)
                       (do (sup/start-child s [next-arg])
                           (recur (rest ops) (conj model next-arg) restarts (inc next-arg))))
              :terminate (if (empty? model)
                           (recur (rest ops) model restarts next-arg)
                           (let [x (nth (sort model) (mod k (count model)))]
                             (sup/terminate-child s (actual x))
                             (recur (rest ops) (disj model x) restarts next-arg)))
              :end (if (empty? model)
                     (recur (rest ops) model restarts next-arg)
                     (let [x (nth (sort model) (mod k (count model)))
                           pid (actual x)
                           m (t/monitor pid)]
                       (if (= :kill reason) (t/exit pid :kill) (! pid [:exit reason]))
                       (await-down m)
                       (let [back? (restarts-on? restart reason)
                             restarts (cond-> restarts back? inc)]
                         (if (> restarts intensity)
                           (if (= :shutdown (await-down smon)) :ok :no-shutdown-when-exceeded)
                           (recur (rest ops) (cond-> model (not back?) (disj x)) restarts next-arg))))))))))))

;; random start/end/terminate sequences: the running children's extra args are as modelled, :max-children holds, and intensity ends the supervisor exactly when exceeded.
(defspec dynamic-ops-against-model 30
  (prop/for-all [restart (gen/elements [:permanent :transient :temporary])
                 intensity (gen/choose 0 3)
                 max-children (gen/choose 1 4)
                 ops (gen/vector (gen/one-of [(gen/return [:start 0 nil])
                                              (gen/tuple (gen/return :terminate) gen/nat (gen/return nil))
                                              (gen/tuple (gen/return :end) gen/nat
                                                         (gen/elements [:normal :shutdown :boom :kill :throw]))])
                                 0 12)]
    (every? (fn [mode]
              (let [r (h/run-system mode #(run-ops restart intensity max-children ops))]
                (or (= :ok r) (throw (ex-info (str r " in " (h/mode-label mode)) {:outcome r :mode mode})))))
            (h/modes))))
