(ns tasklet.core.crash-test
  "Crash reports: a tasklet whose function throws makes exactly one report,
  through the JVM's crash handler (tasklet.core/set-crash-handler!), concise
  and naming its initial function; an exception handed to a waiting caller is
  not reported again; the node keeps working after crashes."
  (:require [clojure.string :as str]
            [clojure.test :refer [deftest is testing]]
            [tasklet.core :as t :refer [spawn spawn-link spawn-monitor ! receive self exit schedule]]
            [tasklet.core.support :as s :refer [recv await-down start-probe responsive
                                               capturing-crashes reports-settle]]
            [tasklet.server :as server]
            [tasklet.supervisor :as sup]))

(set! *warn-on-reflection* true)

(defn crashing-worker
  "Throws at once (a named function, for the report's :initial-fn)."
  []
  (throw (ex-info "worker boom" {:n 1})))

;; A tasklet that throws makes one report: its pid, node, initial function by name, the very Throwable and a one-line
;; message naming them.
(deftest crash-makes-one-concise-report
  (capturing-crashes
    (fn [reports]
      (let [[p ref] (spawn-monitor crashing-worker)
            e (await-down ref)
            [r & more] (reports-settle reports 1)]
        (is (empty? more) "one report")
        (is (= {:kind :crash :pid p :node (:node (t/runtime-info)) :initial-fn `crashing-worker
                :registered-name nil :reason e}
               (dissoc r :message)))
        (is (= "worker boom" (ex-message e)))
        (is (str/starts-with? (:message r) (str "tasklet " p " running tasklet.core.crash-test/crashing-worker,"
                                                 " crashed: clojure.lang.ExceptionInfo: worker boom {:n 1}"
                                                 " at tasklet.core.crash-test/crashing-worker (crash_test.clj:")))
        (is (not (str/includes? (:message r) "\n")) "one line")))))

;; Tasklets that end without throwing (return, exit, an exit signal, even one carrying an exception) make no report.
(deftest no-crash-report-without-a-throw
  (capturing-crashes
    (fn [reports]
      (let [quiet [(spawn-monitor (fn [] :ok))
                   (spawn-monitor (fn [] (exit :shutdown)))
                   (spawn-monitor (fn [] (exit (RuntimeException. "an exit, not a crash"))))
                   (spawn-monitor (fn [] (receive :never nil)))]
            _ (exit (first (last quiet)) (IllegalStateException. "a signal"))
            _ (doseq [[_ ref] quiet] (await-down ref))
            ;; then a crash: its report must be the first (and only) one
            [crasher cref] (spawn-monitor (fn [] (throw (RuntimeException. "the only crash"))))]
        (await-down cref)
        (is (= [crasher] (map :pid (reports-settle reports 1))))))))

;; One crash, one report, through the paths that made two: a tasklet linked to the crasher (it ends with the same
;; exception), a plain thread linked to it, schedule (which rethrows), a failed server start and a supervisor whose
;; child fails to start (the caller's exception is the report: none is logged).
(deftest one-crash-one-report
  (testing "a linked tasklet and a linked plain thread end with the crash but are not reported"
    (capturing-crashes
      (fn [reports]
        (let [me (self)
              crasher (spawn (fn [] (receive [:go] (crashing-worker))))
              [_ lref] (spawn-monitor (fn [] (t/link crasher) (! me [:linked]) (receive :never nil)))
              _ (recv [:linked] nil)
              linked-thread (promise)
              thread-end (promise)
              th (doto (Thread. ^Runnable
                                (fn []
                                  (t/link crasher)
                                  (deliver linked-thread true)
                                  (deliver thread-end
                                           (try (receive :never nil (after s/wait-ms :not-ended))
                                                (catch tasklet.kernel.TaskletExit e (ex-message (.-reason e)))))))
                   (.setDaemon true) (.start))]
          (s/wait linked-thread)
          (! crasher [:go])
          (is (= "worker boom" (ex-message (await-down lref))) "the linked tasklet ended with the crash")
          (is (= "worker boom" (s/wait thread-end)) "so did the linked thread")
          (is (= [crasher] (map :pid (reports-settle reports 1))))))))
  (testing "schedule rethrows, no report"
    (capturing-crashes
      (fn [reports]
        (is (= "worker boom" (ex-message (s/thrown-error (schedule crashing-worker)))))
        (is (= 0 (count (reports-settle reports 0)))))))
  (testing "a failed server start throws at the caller, no report"
    (capturing-crashes
      (fn [reports]
        (is (= "init boom" (ex-message (s/thrown-error
                                         (server/start {:init (fn [_] (throw (ex-info "init boom" {})))} nil)))))
        (is (= 0 (count (reports-settle reports 0)))))))
  (testing "a supervisor whose child fails to start: one exception at the caller, no report"
    (capturing-crashes
      (fn [reports]
        (let [e (s/in-thread
                  (fn [] (s/thrown-error
                           (sup/start-link {:strategy :one-for-one
                                            :children [{:id :bad :start [server/run {:init (fn [_] (throw (ex-info "child init boom" {})))} nil]}]}))))]
          (is (= :failed-to-start-child (:tasklet/error (ex-data e))))
          (is (= 0 (count (reports-settle reports 0)))))))))

;; A supervisor's own reports go to the same handler, with their reason: a restart that fails (retried) is a :warning,
;; too many restarts an :error; the child's crash that began it is the one :crash report.
(deftest supervisor-reports-go-to-the-handler
  (capturing-crashes
    (fn [reports]
      (let [starts (atom 0)
            impl {:init (fn [_] (if (= 1 (swap! starts inc)) :s (throw (ex-info "no second start" {}))))
                  :handle-cast (fn [_ _] (throw (ex-info "cast boom" {})))}
            [sup ref] (t/spawn-monitor sup/run {:strategy :one-for-one :intensity 2 :period-ms 60000
                                                :children [{:id :c :start [server/run impl nil]}]})]
        (is (s/eventually #(= 1 (count (sup/which-children sup)))))
        (server/cast (:pid (first (sup/which-children sup))) :boom)
        (is (= :shutdown (await-down ref)))
        ;; the child reports after its links were told, so the supervisor's
        ;; first report may come before or after the child's: only the
        ;; supervisor's own reports have an order
        (let [rs (reports-settle reports 4)
              crashes (filter #(= :crash (:kind %)) rs)
              sups (filter #(= :supervisor (:kind %)) rs)]
          (is (= 1 (count crashes)))
          (is (= 3 (count sups)))
          (is (= "cast boom" (ex-message (:reason (first crashes)))))
          (is (= [:warning :warning :error] (map :level sups)))
          (is (every? #(= sup (:pid %)) sups))
          (is (re-find #"restart of child :c failed, retrying: clojure.lang.ExceptionInfo: .*no second start"
                       (:message (first sups)))))))))

;; The handler is the JVM's: a node made later (as node/start! makes one) reports to it too.
(deftest handler-covers-nodes-made-later
  (capturing-crashes
    (fn [reports]
      (let [n (tasklet.kernel.Node.   ; not "nonode": the default node has that name
                (.build (tasklet.kernel.NodeOptions/builder "crash-test-later")))]
        (try
          (.spawn n crashing-worker crashing-worker nil nil nil nil)
          (is (= [`crashing-worker] (map :initial-fn (reports-settle reports 1))))
          (finally (.shutdown n)))))))

;; set-crash-handler! returns the previous setting and refuses what is not a handler.
(deftest set-crash-handler-values
  (let [old (t/set-crash-handler! :silent)]
    (try
      (is (= :silent (t/crash-handler)))
      (is (= :silent (t/set-crash-handler! nil)) "nil is :silent")
      (is (= :silent (t/crash-handler)))
      (is (= :badarg (s/error-kind (s/thrown-error (t/set-crash-handler! :loud)))))
      (finally (t/set-crash-handler! old)))))

;; After a crash, other tasklets keep working: an old tasklet still answers, new ones spawn and run.
(deftest other-tasklets-keep-working-after-crash
  (s/quiet-crashes
    (fn []
      (let [old (start-probe)]
        (dotimes [_ 50]
          (let [[_ ref] (spawn-monitor (fn [] (throw (ex-info "crash" {}))))]
            (await-down ref)))
        (is (= :alive (responsive old)))
        (is (= 3 (schedule + 1 2)))
        (is (= (range 100) (sort (pmap (fn [i] (schedule (fn [] i))) (range 100)))))
        (exit old :kill)))))

;; A crash handler that throws is contained: the crashed tasklet still ends with its reason and the node keeps working.
(deftest throwing-crash-handler-is-contained
  ;; the kernel logs the handler's failure on logger "tasklet"; keep the test output clean
  (let [logger (java.util.logging.Logger/getLogger "tasklet")
        level (.getLevel logger)]
    (.setLevel logger java.util.logging.Level/OFF)
    (try
      (s/with-crash-handler (fn [_] (throw (RuntimeException. "handler fails")))
        (fn []
          (let [e (ex-info "crash" {})
                [_ ref] (spawn-monitor (fn [] (throw e)))]
            (is (identical? e (await-down ref)))
            (is (= 3 (schedule + 1 2))))))
      (finally (.setLevel logger level)))))
