(ns tasklet.task-supervisor-test
  "tasklet.impl.task-supervisor (Elixir's Task.Supervisor start_child, doc/reference.md
  §7), in every mode of tasklet.harness/defsystest."
  (:require [tasklet.harness :refer [defsystest quiet-crash-reports]]
            [clojure.test :refer [is use-fixtures]]
            [tasklet.core :as t :refer [! receive self]]
            [tasklet.impl.task-supervisor :as ts]
            [tasklet.supervisor :as sup])
  (:import [clojure.lang ExceptionInfo]))

(set! *warn-on-reflection* true)

(use-fixtures :once quiet-crash-reports)

(defn- err [f]
  (try (f) nil (catch ExceptionInfo e (:tasklet/error (ex-data e)))))

(defn- await-down [m]
  (receive [:DOWN m :process _ r] r (after 10000 ::no-down)))

(defn- report
  "Waits for :go, then sends owner xs."
  [owner & xs]
  (receive :go nil)
  (! owner (vec xs)))

;; a task runs (apply f args) under the supervisor; its value is dropped and it is forgotten when it ends.
(defsystest task-runs-and-is-forgotten
  (let [s (ts/start-link)
        p (ts/start-child s report (self) :ran 1 2)
        m (t/monitor p)]
    (is (t/pid? p))
    (! p :go)
    (is (= [:ran 1 2] (receive [:ran a b] [:ran a b] (after 10000 nil))))
    (is (= :normal (await-down m)))
    (is (= {:specs 1 :active 0 :supervisors 0 :workers 0} (sup/count-children s)))))

;; a crashing task is not restarted, does not reach its starter, and leaves the other tasks running.
(defsystest task-crash-is-contained
  (let [s (ts/start-link)
        other (ts/start-child s (fn [] (receive :never nil)))
        bad (ts/start-child s (fn [] (receive :go nil) (throw (ex-info "boom" {}))))
        m (t/monitor bad)]
    (! bad :go)
    (is (instance? ExceptionInfo (await-down m)))
    (is (= [other] (map :pid (sup/which-children s))) "not restarted, the other still runs")
    (is (t/alive? s))
    (is (= ::nothing (receive [:EXIT _ _] ::exit (after 0 ::nothing))) "the starter got no exit signal")))

;; a named task supervisor under a parent; :max-children bounds the tasks; bad arguments are refused.
(defsystest task-supervisor-options
  (let [_ (sup/start-link {:children [(ts/supervisor-spec {:name ::tasks :max-children 1})]})
        p (ts/start-child ::tasks (fn [] (receive :go nil)))]
    (is (= :max-children (err #(ts/start-child ::tasks identity 1))))
    (let [m (t/monitor p)]
      (! p :go)
      (await-down m))
    (is (t/pid? (ts/start-child ::tasks identity 1)))
    (is (= :badarg (err #(ts/start-child ::tasks 42))))
    (is (= :badarg (err #(ts/supervisor-spec {:nmae :x}))))))

;; when the task supervisor stops, running tasks get :shutdown, and are killed after :shutdown ms.
(defsystest task-supervisor-shutdown
  (let [s (ts/start-link {:shutdown 500})
        me (self)
        polite (ts/start-child s (fn [] (receive :never nil)))
        stubborn (ts/start-child s (fn [] (t/trap-exit! true) (! me :trapping) (receive :never nil)))
        pm (t/monitor polite)
        sm (t/monitor stubborn)]
    (receive :trapping nil)
    (t/exit s :shutdown)
    (is (= :shutdown (await-down pm)))
    (is (= :killed (await-down sm)))))
