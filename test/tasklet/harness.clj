(ns tasklet.harness
  "Shared harness for the supervisor, server and tasklet.test suites: quiet
  crash reports, and test bodies run as fresh processes."
  (:require [tasklet.core :as t :refer [receive self]])
  (:import [java.util.logging Level Logger]
           [tasklet.kernel TaskletExit]))

(defn quiet-crash-reports
  "A :once fixture: crashes are the point of these tests, so keep their
  reports (System.Logger \"tasklet\") off the console."
  [f]
  (let [l (Logger/getLogger "tasklet")
        old (.getLevel l)]
    (.setLevel l Level/OFF)
    (try (f) (finally (.setLevel l old)))))

(defn run-in-process
  "Run f on a fresh plain thread with its own pid, trapping exits, within 30 s.
  When f returns, that pid ends with reason ::done, which stops what it linked
  to (servers, supervisors); this waits until they have ended, so nothing
  leaks into the next test. Rethrows what f threw."
  [f]
  (let [fut (future
              (t/trap-exit! true)
              (let [r (try [:ok (f)]
                           (catch TaskletExit e (throw e))
                           (catch Throwable e [:error e]))
                    linked (:links (t/process-info (self)))]
                (try (t/exit ::done) (catch TaskletExit _ nil))
                [r linked]))
        [r linked] (deref fut 30000 [[:error (ex-info "test timed out after 30 s" {})] []])]
    (doseq [p linked]
      (let [m (t/monitor p)]
        (receive [:DOWN m :process _ _] nil
                 (after 10000 (throw (ex-info "a linked tasklet outlived its test" {:pid p}))))))
    (if (= :ok (first r)) (second r) (throw (second r)))))

(defmacro in-process
  "Run body as a fresh process that traps exits (see run-in-process)."
  [& body]
  `(run-in-process (fn [] ~@body)))
