(ns tasklet.pg-test
  "tasklet.pg on one node (doc/reference.md §7, OTP's pg): joins, leaves, members that
  end, monitors, and a test.check property of random join/leave/kill
  sequences against a model (a multiset of members per group), each run in
  every mode of tasklet.harness (normal, then the deterministic scheduler).
  Across nodes: tasklet.pg-node-test. Synchronisation is on the scope's
  notifications: a change is published before it is notified."
  (:require [tasklet.harness :as h :refer [defsystest quiet-crash-reports]]
            [clojure.test :refer [is use-fixtures]]
            [clojure.test.check.clojure-test :refer [defspec]]
            [clojure.test.check.generators :as gen]
            [clojure.test.check.properties :as prop]
            [tasklet.core :as t :refer [! receive self]]
            [tasklet.pg :as pg])
  (:import [clojure.lang ExceptionInfo]))

(set! *warn-on-reflection* true)

(use-fixtures :once quiet-crash-reports)

(defn idle [] (receive :stop nil))

(defn- err [f]
  (try (f) nil (catch ExceptionInfo e (:tasklet/error (ex-data e)))))

(defn- next-note [ref]
  (receive [ref kind g pids] [kind g pids] (after 5000 ::none)))

(defn- no-note? [ref]
  (receive [ref _ _ _] false (after 0 true)))

;; join, several memberships, leave one at a time, :not-joined; the views agree.
(defsystest join-leave
  (pg/start-link ::s)
  (let [a (t/spawn idle)
        b (t/spawn idle)]
    (is (= :ok (pg/join ::s :g a)))
    (is (= :ok (pg/join ::s :g [a b])))
    (is (= {a 2 b 1} (frequencies (pg/members ::s :g))))
    (is (= {a 2 b 1} (frequencies (pg/local-members ::s :g))))
    (is (= [:g] (pg/which-groups ::s)))
    (is (= :ok (pg/leave ::s :g a)))
    (is (= {a 1 b 1} (frequencies (pg/members ::s :g))))
    (is (= :ok (pg/leave ::s :g [a b])))
    (is (= [] (pg/members ::s :g)))
    (is (= [] (pg/which-groups ::s)) "a group without members does not exist")
    (is (= :not-joined (pg/leave ::s :g [a b])))
    (is (= [] (pg/members ::s :nothing)))
    (is (= [] (pg/members ::no-such-scope :g)) "a scope not running reads as empty")))

;; a member that ends leaves every group it joined, once per membership.
(defsystest member-ends
  (pg/start-link ::s)
  (let [a (t/spawn idle)
        b (t/spawn idle)
        [ref now] (pg/monitor-scope ::s)]
    (is (= {} now))
    (pg/join ::s :g [a a b])
    (pg/join ::s :h a)
    (is (= [:join :g [a a b]] (next-note ref)))
    (is (= [:join :h [a]] (next-note ref)))
    (t/exit a :kill)
    (is (= #{[:leave :g [a]] [:leave :h [a]]} (set (repeatedly 3 #(next-note ref)))))
    (is (= [b] (pg/members ::s :g)))
    (is (= [:g] (pg/which-groups ::s)))))

;; a group monitor sees only its group; demonitor ends it and flushes; the subscription ends with the subscriber.
(defsystest group-monitor
  (pg/start-link ::s)
  (let [a (t/spawn idle)
        _ (pg/join ::s :g a)
        [ref now] (pg/monitor ::s :g)]
    (is (= [a] now))
    (pg/join ::s :other a)
    (pg/leave ::s :g a)
    (is (= [:leave :g [a]] (next-note ref)) "no note for :other")
    (pg/join ::s :g a)
    (is (true? (pg/demonitor ref)))
    (is (no-note? ref) "the pending note was flushed")
    (pg/leave ::s :g a)
    (is (no-note? ref))
    (is (false? (pg/demonitor ref)))))

;; only pids of this node join; a scope name must be a keyword and free.
(defsystest badarg
  (pg/start-link ::s)
  (is (= :badarg (err #(pg/join ::s :g (t/read-pid [:elsewhere 1 1])))))
  (is (= :badarg (err #(pg/join ::s :g [(self) :not-a-pid]))))
  (is (= :badarg (err #(pg/join ::s :g {:a 1}))))
  (is (= :badarg (err #(pg/start-link "scope"))))
  (is (= :badarg (err #(pg/start-link ::s))) "the name is taken")
  (is (= :noproc (err #(pg/join ::not-started :g (self))))))

;; the :default scope starts on demand.
(defsystest default-scope
  (let [a (t/spawn idle)]
    (is (= :ok (pg/join ::dg a)))
    (is (t/pid? (t/whereis pg/default-scope)))
    (is (= [a] (pg/members ::dg)))
    (is (= [a] (pg/local-members ::dg)))
    (is (some #{::dg} (pg/which-groups)))
    (let [[ref pids] (pg/monitor ::dg)]
      (is (= [a] pids))
      (t/exit a :kill)
      (is (= [:leave ::dg [a]] (next-note ref))))
    (let [[ref groups] (pg/monitor-scope)]
      (is (not (contains? groups ::dg)))
      (is (true? (pg/demonitor ref))))))

;; ---------------------------------------------------------------------------
;; The property

(defn- model-leave
  "Model of (leave g ps): [model' left]."
  [model g ps]
  (reduce (fn [[m left] p]
            (if (pos? (get-in m [g p] 0))
              [(update m g (fn [f] (let [f (update f p dec)] (if (zero? (f p)) (dissoc f p) f)))) (conj left p)]
              [m left]))
          [model []] ps))

(defn- as-modelled? [model]
  (and (every? (fn [g] (= (get model g {}) (frequencies (pg/members ::p g))
                          (frequencies (pg/local-members ::p g))))
               [:a :b])
       (= (set (keep (fn [[g f]] (when (seq f) g)) model)) (set (pg/which-groups ::p)))))

(defn- run-ops
  "Apply ops to scope ::p and to the model {group {pid count}}; returns :ok
  or what went wrong first."
  [ops]
  (pg/start-link ::p)
  (let [[ref _] (pg/monitor-scope ::p)]
    (loop [ops ops
           pids (vec (repeatedly 3 #(t/spawn idle)))
           model {}]
      (cond
        (not (as-modelled? model)) [:view-not-as-modelled model]
        (empty? ops) :ok
        :else
        (let [[op g is] (first ops)
              ps (mapv pids is)]
          (case op
            :join (do (pg/join ::p g ps)
                      (if (or (empty? ps) (= [:join g ps] (next-note ref)))
                        (recur (rest ops) pids (reduce (fn [m p] (update-in m [g p] (fnil inc 0))) model ps))
                        :no-join-note))
            :leave (let [r (pg/leave ::p g ps)
                         [model' left] (model-leave model g ps)]
                     (cond
                       (not= r (if (seq left) :ok :not-joined)) [:leave-returned r]
                       (and (seq left) (not= [:leave g left] (next-note ref))) :no-leave-note
                       :else (recur (rest ops) pids model')))
            :kill (let [i (first is)
                        p (pids i)
                        n (reduce + (map #(get-in model [% p] 0) [:a :b]))]
                    (t/exit p :kill)
                    (let [notes (doall (repeatedly n #(next-note ref)))]
                      (if (every? (fn [[kind _ ps]] (and (= :leave kind) (= [p] ps))) notes)
                        (recur (rest ops) (assoc pids i (t/spawn idle))
                               (into {} (map (fn [[g f]] [g (dissoc f p)])) model))
                        [:kill-notes notes])))))))))

;; random join/leave/kill sequences: members, local-members, which-groups and the notifications are as the model says.
(defspec ops-against-model 40
  (prop/for-all [ops (gen/vector (gen/one-of
                                   [(gen/tuple (gen/elements [:join :leave]) (gen/elements [:a :b])
                                               (gen/vector (gen/choose 0 2) 0 3))
                                    (gen/tuple (gen/return :kill) (gen/return nil)
                                               (gen/vector (gen/choose 0 2) 1))])
                                 0 15)]
    (every? (fn [mode]
              (let [r (h/run-system mode #(run-ops ops))]
                (or (= :ok r) (throw (ex-info (str (pr-str r) " in " (h/mode-label mode)) {:outcome r})))))
            (h/modes))))
