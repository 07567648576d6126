(ns tasklet.core.crash-test
  "Crash reports: a tasklet that dies of an exception reaches the node's crash
  handler (tasklet.kernel.CrashHandler), and the node keeps working."
  (:require [clojure.test :refer [deftest is testing]]
            [tasklet.core :as t :refer [spawn spawn-monitor ! receive self exit schedule]]
            [tasklet.core.support :as s :refer [recv await-down start-probe responsive]])
  (:import [tasklet.kernel CrashHandler]))

(defn- collecting-handler
  "A crash handler that sends [tg pid f e] to owner for each crash."
  [owner tg]
  (reify CrashHandler
    (crashed [_ pid f e] (! owner [tg pid f e]))))

;; A tasklet that throws reaches the crash handler with its pid, its initial function and the very Throwable.
(deftest crash-reaches-crash-handler
  (let [me (self)
        tg (s/tag)
        e (ex-info "crash report" {:n 1})
        f (fn [] (throw e))]
    (s/with-crash-handler (collecting-handler me tg)
      (fn []
        (let [[p ref] (spawn-monitor f)]
          (is (identical? e (await-down ref)))
          (let [[pid f' e'] (recv [tg pid f' e'] [pid f' e'])]
            (is (= p pid))
            (is (identical? f f'))
            (is (identical? e e'))))))))

;; Tasklets that end without an exception (return, exit, exit signal) make no crash report.
(deftest no-crash-report-without-exception
  (let [me (self)
        tg (s/tag)]
    (s/with-crash-handler (collecting-handler me tg)
      (fn []
        (let [quiet [(spawn-monitor (fn [] :ok))
                     (spawn-monitor (fn [] (exit :shutdown)))
                     (spawn-monitor (fn [] (receive :never nil)))]
              _ (exit (first (last quiet)) :kill)
              _ (doseq [[_ ref] quiet] (await-down ref))
              ;; then a crash: its report must be the first (and only) one
              [crasher cref] (spawn-monitor (fn [] (throw (RuntimeException. "the only crash"))))]
          (await-down cref)
          (is (= crasher (recv [tg pid _ _] pid)))
          (is (s/no-message? #(= tg (first %)))))))))

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
      (s/with-crash-handler (reify CrashHandler (crashed [_ _ _ _] (throw (RuntimeException. "handler fails"))))
        (fn []
          (let [e (ex-info "crash" {})
                [_ ref] (spawn-monitor (fn [] (throw e)))]
            (is (identical? e (await-down ref)))
            (is (= 3 (schedule + 1 2))))))
      (finally (.setLevel logger level)))))
