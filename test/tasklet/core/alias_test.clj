(ns tasklet.core.alias-test
  "Process aliases (EEP 53, doc/reference.md §7): alias, alias {:reply true}, unalias,
  monitor {:alias :demonitor}; a send through an inactive alias is dropped
  by the kernel. Every test runs in every mode of tasklet.harness/defsystest
  (real node, then the deterministic scheduler). Across child JVMs (the
  wire): tasklet.node-child-test/aliases-across-the-wire."
  (:require [clojure.test :refer [deftest is testing use-fixtures]]
            [tasklet.harness :refer [defsystest quiet-crash-reports]]
            [tasklet.core :as t :refer [! receive self spawn spawn-monitor]])
  (:import [tasklet.kernel Ref]))

(set! *warn-on-reflection* true)

(use-fixtures :once quiet-crash-reports)

(defn- next-msg
  ([] (next-msg 5000))
  ([ms] (receive m m (after ms ::none))))

(defn- await-down [ref] (receive [:DOWN ref :process _ r] r (after 5000 ::no-down)))

;; an alias reaches its owner from any tasklet while active; after unalias, sends through it are dropped.
(defsystest alias-until-unalias
  (let [a (t/alias)
        me (self)]
    (is (instance? Ref a))
    (! a :one)
    (let [[_ ref] (spawn-monitor (fn [] (! a :two)))]
      (is (= :normal (await-down ref))))
    (is (= [:one :two] [(next-msg) (next-msg)]))
    (is (true? (t/unalias a)))
    (is (false? (t/unalias a)) "already inactive")
    (! a :dropped)
    (let [[_ ref] (spawn-monitor (fn [] (! a :dropped-too) (! me :after)))]
      (is (= :normal (await-down ref))))
    (is (= :after (next-msg)) "per-sender order: :dropped-too would have come first")
    (is (= ::none (next-msg 0)))))

;; (alias {:reply true}) is deactivated by the first message that arrives through it.
(defsystest reply-alias-takes-one-message
  (let [a (t/alias {:reply true})]
    (! a :first)
    (! a :second)
    (is (= :first (next-msg)))
    (is (= ::none (next-msg 50)))
    (is (false? (t/unalias a)))))

;; another tasklet cannot deactivate my alias; an alias of a tasklet that ended drops everything.
(defsystest alias-belongs-to-its-owner
  (let [me (self)
        [p ref] (spawn-monitor (fn [] (let [a (t/alias)] (! me [:alias a]) (receive :stop nil))))
        a (receive [:alias a] a (after 5000 nil))]
    (is (false? (t/unalias a)) "not mine")
    (! p :stop)
    (is (= :normal (await-down ref)))
    (! a :to-the-dead)
    (is (= ::none (next-msg 20)))))

;; monitor {:alias :demonitor}: the ref is an alias while the monitor is active; the :DOWN (or demonitor) deactivates it.
(defsystest monitor-alias-goes-with-the-monitor
  (let [me (self)
        target (spawn (fn [] (receive [:send-to a] (! a [:via-alias 1])) (receive :stop nil)))
        mref (t/monitor target {:alias :demonitor})]
    (! target [:send-to mref])
    (is (= [:via-alias 1] (next-msg)))
    (! target :stop)
    (is (= :normal (await-down mref)))
    (! mref :after-down)
    (is (= ::none (next-msg 20)) "dropped: the monitor fired")
    (testing "demonitor deactivates it"
      (let [t2 (spawn (fn [] (receive :stop nil)))
            m2 (t/monitor t2 {:alias :demonitor})]
        (! m2 :while-monitored)
        (is (= :while-monitored (next-msg)))
        (t/demonitor m2)
        (! m2 :after-demonitor)
        (is (= ::none (next-msg 20)))
        (! t2 :stop)))
    (testing "a dead target: the alias is inactive from the start"
      (let [[dead dref] (spawn-monitor (fn [] nil))
            _ (await-down dref)
            m3 (t/monitor dead {:alias :demonitor})]
        (is (= :noproc (await-down m3)))
        (! m3 :x)
        (is (= ::none (next-msg 20)))))
    (testing ":reply-demonitor also ends with the first message"
      (let [t4 (spawn (fn [] (receive :stop nil)))
            m4 (t/monitor t4 {:alias :reply-demonitor})]
        (! m4 :a)
        (! m4 :b)
        (is (= :a (next-msg)))
        (is (= ::none (next-msg 20)))
        (t/demonitor m4)
        (! t4 :stop)))))

;; timers may target an alias: sent through it when they fire, dropped once it is inactive.
(defsystest timer-through-an-alias
  (let [a (t/alias)]
    (t/send-after 10 a :timed)
    (is (= :timed (next-msg)))
    (t/unalias a)
    (t/send-after 10 a :dropped)
    (is (= ::none (next-msg 50)))))

;; bad arguments are refused with :badarg.
(deftest alias-refuses-bad-arguments
  (doseq [f [#(t/alias :reply) #(t/unalias :x) #(t/monitor (self) {:alias :sometimes})]]
    (is (= :badarg (try (f) nil (catch clojure.lang.ExceptionInfo e (:tasklet/error (ex-data e))))))))
