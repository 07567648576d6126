(ns tasklet.harness
  "Shared harness for the supervisor, server and tasklet.test suites: quiet
  crash reports, and test bodies run as fresh processes, in two modes.

  A test body is the system under test: it runs as a fresh process that
  traps exits, and when it returns, that process ends with reason ::done,
  which stops whatever it linked to (servers, supervisors); the harness waits
  until those have ended, so nothing leaks into the next test. The modes:
  - normal: the process is a fresh plain thread on the JVM's default node,
    with the real clock and the real scheduler (`run-in-process`);
  - deterministic: the process is a tasklet on a fresh node of
    tasklet.test's deterministic scheduler, in virtual time, once with the
    all-zeros schedule (no preemption) and once per seed in `*seeds*`
    (`run-deterministic-process`).
  `defsystest` defines a clojure.test test that runs its body in every mode.
  The deterministic modes need the continuation strand's --add-exports
  (tasklet.test/available?); in a JVM without it they are skipped. (The
  +vthread profile keeps the export: there the normal mode runs on virtual
  threads and the deterministic ones on their own continuation node.)"
  (:require [clojure.test :as test :refer [deftest testing]]
            [tasklet.core :as t :refer [! receive self]]
            [tasklet.test :as tt])
  (:import [java.util.logging Level Logger]
           [tasklet.kernel TaskletExit]))

(set! *warn-on-reflection* true)

(defn quiet-crash-reports
  "A :once fixture: crashes are the point of these tests, so keep their
  reports (set-crash-handler! :silent) and the kernel's other logging
  (System.Logger \"tasklet\") off the console."
  [f]
  (let [l (Logger/getLogger "tasklet")
        old (.getLevel l)
        old-handler (t/set-crash-handler! :silent)]
    (.setLevel l Level/OFF)
    (try (f) (finally (.setLevel l old) (t/set-crash-handler! old-handler)))))

(def ^:dynamic *seeds*
  "The seeds of the deterministic runs of each test, besides the all-zeros
  schedule. Fixed, so that a failure replays: rebind it (or set the system
  property tasklet.harness.seeds to a count) to explore more schedules."
  (vec (range 1 (inc (Long/getLong "tasklet.harness.seeds" 5)))))

(def ^:private await-linked-ms
  "How long a linked tasklet may take to end after its test process did."
  10000)

(defn- await-linked
  "Wait until each of pids has ended; throw when one outlives its test."
  [pids]
  (doseq [p pids]
    (let [m (t/monitor p)]
      (receive [:DOWN m :process _ _] nil
               (after await-linked-ms (throw (ex-info "a linked tasklet outlived its test" {:pid p})))))))

(defn- test-process
  "The body of a test process: trap exits, run f, call done with [[:ok value]
  or [:error e], the pids it is linked to], then end with reason ::done,
  which stops what it linked to."
  [f done]
  (t/trap-exit! true)
  (let [r (try [:ok (f)]
               (catch TaskletExit e (throw e))
               (catch Throwable e [:error e]))
        linked (:links (t/process-info (self)))]
    (done [r linked])
    (t/exit ::done)))

(defn- unwrap [[r linked]]
  (await-linked linked)
  (if (= :ok (first r)) (second r) (throw (second r))))

(defn run-in-process
  "Run f on a fresh plain thread with its own pid, trapping exits, within 30 s.
  When f returns, that pid ends with reason ::done, which stops what it linked
  to (servers, supervisors); this waits until they have ended, so nothing
  leaks into the next test. Rethrows what f threw."
  [f]
  (let [fut (future
              (let [out (volatile! nil)]
                (try (test-process f #(vreset! out %))
                     (catch TaskletExit e
                       ;; ::done once f returned; before that, the process was killed
                       (when-not @out
                         (vreset! out [[:error (ex-info (str "the test process exited with reason "
                                                             (pr-str (.-reason e)))
                                                        {:reason (.-reason e)})]
                                       []]))))
                @out))]
    (unwrap (deref fut 30000 [[:error (ex-info "test timed out after 30 s" {})] []]))))

(defn run-deterministic-process
  "Run f as a fresh process trapping exits, as `run-in-process` does, but as a
  tasklet under tasklet.test's deterministic scheduler (virtual time, one
  thread) with run options opts (:seed, :choices, :max-steps). The body of
  the run stands where the test thread stands in normal mode: it spawns the
  process and waits for it and what it linked to. Returns f's value; rethrows
  what f threw, or the run's deadlock or step-limit error (with the last
  steps of its trace)."
  [opts f]
  (tt/run-deterministic
    opts
    (fn []
      (let [me (self)
            [_ m] (t/spawn-monitor test-process f #(! me [::result %]))]
        (receive
          [::result out] (unwrap out)
          [:DOWN m :process _ reason]
          (throw (ex-info (str "the test process exited with reason " (pr-str reason)) {:reason reason})))))))

(defn modes
  "The modes a system test runs in: :normal, then (where the deterministic
  scheduler is available) the all-zeros schedule and one run per seed in
  `*seeds*`, as run options."
  []
  (into [:normal]
        (when (tt/available?)
          (into [{}] (map (fn [s] {:seed s})) *seeds*))))

(defn run-system
  "Run f as a fresh test process in mode (one of `modes`); opts (:max-steps)
  apply to deterministic runs. Returns f's value, rethrows what it threw."
  ([mode f] (run-system mode nil f))
  ([mode opts f]
   (if (= :normal mode)
     (run-in-process f)
     (run-deterministic-process (merge opts mode) f))))

(defn mode-label
  "How a mode reads in a test report: where a failure happened, and how to
  replay it (tasklet.test/run-schedule takes the same options)."
  [mode]
  (if (= :normal mode)
    "normal mode"
    (str "deterministic mode " (pr-str (if (empty? mode) {:choices []} mode)))))

(defn run-in-all-modes
  "Run f (a test body making clojure.test assertions) in every mode, each
  under a `testing` context naming it; what a run throws is reported as an
  error of that mode, and the other modes still run."
  [opts f]
  (doseq [mode (modes)]
    (testing (mode-label mode)
      (try (run-system mode opts f)
           (catch Throwable e
             (test/do-report {:type :error :message (str "uncaught in " (mode-label mode))
                              :expected nil :actual e}))))))

(defmacro defsystest
  "Define a test whose body, the system under test, runs as a fresh process
  that traps exits in every mode (see the ns docstring): normally, then
  under the deterministic scheduler with the all-zeros schedule and with
  each seed of `*seeds*`. An optional map after the name gives run options
  for the deterministic runs, e.g. {:max-steps 500000} for a long body.

    (defsystest call-reply
      (let [s (start-counter)]
        (is (= 1 (server/call s :inc)))))

  The body must synchronise only through tasklets (messages, monitors,
  `receive` timeouts, which are virtual in the deterministic modes): no
  Thread/sleep, no futures or plain threads, no real-time measurement."
  [name & body]
  (let [[opts body] (if (and (map? (first body)) (next body)) [(first body) (rest body)] [nil body])]
    `(deftest ~name
       (run-in-all-modes ~opts (fn [] ~@body)))))
