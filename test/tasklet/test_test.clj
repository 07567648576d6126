(ns tasklet.test-test
  "tasklet.test: the deterministic scheduler, virtual time (the supervisor's
  restart-intensity window included), schedule generation and shrinking,
  demonstrated on small racy programs. (The project's own supervisor and
  server suites run under the deterministic scheduler too, in every test:
  see tasklet.harness/defsystest.) Everything here runs on one thread in
  virtual time, so nothing sleeps and nothing depends on the machine's
  speed; each run is bounded by :max-steps. On a JVM without the
  continuation strand these tests are skipped (they cannot run there)."
  (:require [tasklet.harness :refer [quiet-crash-reports]]
            [clojure.test :refer [deftest is testing use-fixtures]]
            [tasklet.core :as t :refer [! receive self spawn]]
            [tasklet.supervisor :as sup]
            [tasklet.test :as tt])
  (:import [clojure.lang ExceptionInfo]))

(set! *warn-on-reflection* true)

(use-fixtures :once quiet-crash-reports)

(defmacro ^:private when-available
  "Run body when the deterministic scheduler can run here, else skip (pass)."
  [& body]
  `(if (tt/available?) (do ~@body) (println "skipped: no continuation strand")))

;; ---------------------------------------------------------------------------
;; The scheduler itself

(defn- two-senders []
  (let [me (self)]
    (spawn (fn [] (! me :a)))
    (spawn (fn [] (! me :b)))
    [(receive m m) (receive m m)]))

(deftest same-seed-same-run
  (when-available
    (doseq [seed (range 10)]
      (let [a (tt/run-schedule {:seed seed} two-senders)
            b (tt/run-schedule {:seed seed} two-senders)]
        (is (= :done (:outcome a)))
        (is (= (:result a) (:result b)))
        (is (= (tt/format-trace (:trace a)) (tt/format-trace (:trace b))) (str "seed " seed))))
    (testing "different seeds reach both delivery orders"
      (is (= #{[:a :b] [:b :a]}
             (set (for [seed (range 30)] (tt/run-deterministic {:seed seed} two-senders))))))))

(deftest choices-replay
  (when-available
    (let [r (tt/run-schedule {:seed 7} two-senders)
          again (tt/run-schedule {:choices (:choices r)} two-senders)]
      (is (= (:result r) (:result again)))
      (is (= (:choices r) (:choices again))))
    (testing "no choices: each tasklet runs until it waits (no preemption)"
      (is (= [:a :b] (tt/run-deterministic {} two-senders))))))

;; A tasklet that ends signals its links and monitors in the order they were
;; made (they were signalled in the hash order of pids and refs, whose hashes
;; include the node's name); every run has a fresh node, so the run must not
;; depend on which.
(defn- exit-fan-out []
  (let [me (self)
        hub (spawn (fn [] (receive :go (t/exit :bye))))]
    (dotimes [i 8]
      (spawn (fn []
               (t/trap-exit! true)
               (t/link hub)
               (t/monitor hub)
               (! me :ready)
               (receive [:EXIT _ _] (! me [:exit i]))
               (receive [:DOWN _ :process _ _] (! me [:down i])))))
    (dotimes [_ 8] (receive :ready nil))
    (! hub :go)
    [(vec (repeatedly 8 #(receive [:exit i] i))) (vec (repeatedly 8 #(receive [:down i] i)))]))

(deftest same-options-same-run-on-every-node
  (when-available
    (doseq [opts [{} {:seed 4}]]
      (let [runs (repeatedly 10 #(tt/run-schedule opts exit-fan-out))]
        (is (apply = (map :result runs)) (str "exit signals in the same order, " (pr-str opts)))
        (is (apply = (map (comp tt/format-trace :trace) runs)) (str "the same trace, " (pr-str opts)))))))

(deftest virtual-time-timeouts
  (when-available
    (let [t0 (System/nanoTime)
          r (tt/run-schedule {} (fn [] (receive :never :no (after 60000 :timed-out))))]
      (is (= :timed-out (:result r)))
      (is (= 60000.0 (double (:virtual-ms r))))
      (is (< (- (System/nanoTime) t0) 10e9) "a minute of virtual time takes no real minute"))))

;; The supervisor's restart-intensity window is measured on the node's clock,
;; so under the deterministic scheduler it passes in virtual time, as the
;; children's `after` waits do. On the real clock the crashes below would all
;; fall within a few real milliseconds: each supervisor would end as soon as
;; its restarts passed the intensity, the first two at their second and third.
(defn- crash-after
  "A child that reports its start to owner, waits ms, then crashes."
  [owner ms]
  (! owner :started)
  (receive :never nil (after ms nil))
  (throw (ex-info "crash" {})))

(defn- spaced-crashes
  "A supervisor (intensity, period-ms) over one child that crashes spacing-ms
  after each start, watched for limit-ms of virtual time: [outcome starts],
  outcome being [:shutdown at-ms] when the supervisor ended, else :running."
  [intensity period-ms spacing-ms limit-ms]
  (t/trap-exit! true)
  (let [s (sup/start-link {:intensity intensity :period-ms period-ms
                           :children [{:id :c :start [crash-after (self) spacing-ms]}]})
        m (t/monitor s)
        outcome (receive [:DOWN m :process _ r] [r (t/monotonic-ms)]
                         (after limit-ms :running))]
    [outcome (loop [n 0] (receive :started (recur (inc n)) (after 0 n)))]))

(deftest virtual-time-restart-intensity
  (when-available
    (doseq [opts [{} {:seed 1} {:seed 2} {:seed 3}]]
      (testing (pr-str opts)
        (is (= [:running 11] (tt/run-deterministic opts #(spaced-crashes 1 60000 60001 600100)))
            "one crash a virtual minute never makes two restarts within a minute: ten restarts")
        (is (= [:running 4] (tt/run-deterministic opts #(spaced-crashes 2 60000 30001 100000)))
            "each third restart falls just outside the period of the first")
        (is (= [[:shutdown 60000] 3] (tt/run-deterministic opts #(spaced-crashes 2 60000 20000 600000)))
            "a third restart within the period ends the supervisor, at virtual 60 s")))))

(deftest body-value-and-errors
  (when-available
    (is (= 3 (tt/with-deterministic-scheduler {:seed 1} (+ 1 2))))
    (is (thrown-with-msg? ExceptionInfo #"boom"
                          (tt/with-deterministic-scheduler {} (throw (ex-info "boom" {})))))
    (testing "a crash in a spawned tasklet is not the body's failure"
      (is (= :ok (tt/with-deterministic-scheduler {}
                   (let [[_ m] (t/spawn-monitor (fn [] (throw (ex-info "child" {}))))]
                     (receive [:DOWN m :process _ _] :ok))))))))

(deftest deadlock-reported
  (when-available
    (let [e (try (tt/with-deterministic-scheduler {} (receive :never nil)) nil
                 (catch ExceptionInfo e e))]
      (is (= :deadlock (:tasklet/error (ex-data e))))
      (is (re-find #"deadlock" (ex-message e)))
      (is (vector? (:trace (ex-data e)))))))

(deftest livelock-reported
  (when-available
    (let [e (try (tt/with-deterministic-scheduler {:max-steps 500}
                   (let [me (self)] (loop [] (! me :tick) (receive :tick nil) (recur))))
                 nil
                 (catch ExceptionInfo e e))]
      (is (= :livelock (:tasklet/error (ex-data e))))
      (is (re-find #"more than 500 steps" (ex-message e))))))

(deftest does-not-nest
  (when-available
    (let [e (try (tt/with-deterministic-scheduler {} (tt/with-deterministic-scheduler {} 1)) nil
                 (catch ExceptionInfo e e))]
      (is (= :badarg (:tasklet/error (ex-data e)))))
    (testing "nor run inside an ordinary tasklet"
      (let [e (try (t/schedule (fn [] (tt/with-deterministic-scheduler {} 1))) nil
                   (catch ExceptionInfo e e))]
        (is (= :badarg (:tasklet/error (ex-data e))))))))

(deftest bindings-conveyed-and-restored
  (when-available
    (let [v (tt/with-deterministic-scheduler {:seed 3}
              [*print-length* (t/schedule (fn [] *print-length*))])]
      (is (= [nil nil] v)))
    (binding [*print-length* 7]
      (is (= [7 7] (tt/with-deterministic-scheduler {:seed 3}
                     [*print-length* (t/schedule (fn [] *print-length*))])))
      (is (= 7 *print-length*) "the calling thread's bindings survive the run"))))

;; ---------------------------------------------------------------------------
;; Racy programs: the deterministic mode finds the bug and shrinks the trace

;; Check-then-act on the registry: two tasklets each register :the-one unless
;; someone has it. Interleaved whereis/whereis/register/register, the second
;; register throws :badarg.
(defn- claim-name [owner]
  (let [r (try (if (t/whereis :the-one)
                 :exists
                 (do (t/register :the-one (self)) :registered))
               (catch ExceptionInfo e (:tasklet/error (ex-data e))))]
    (! owner [:outcome r])
    (receive :stop nil)))

(defn registry-race []
  (let [me (self)
        a (spawn claim-name me)
        b (spawn claim-name me)
        rs [(receive [:outcome r] r) (receive [:outcome r] r)]]
    (! a :stop)
    (! b :stop)
    (sort rs)))

;; A counter kept by a store tasklet, incremented by two tasklets that each
;; read it ([:get from] -> [:value v]) and then write it ([:put v+1]).
(defn- store [v]
  (receive [:get from] (do (! from [:value v]) (recur v))
           [:put x] (recur x)
           :stop nil))

(defn- incrementer [s owner]
  (! s [:get (self)])
  (let [v (receive [:value v] v)]
    (! s [:put (inc v)]))
  (! owner :done))

(defn lost-update []
  (let [me (self)
        s (spawn store 0)]
    (spawn incrementer s me)
    (spawn incrementer s me)
    (receive :done nil)
    (receive :done nil)
    (! s [:get me])
    (let [v (receive [:value v] v)]
      (! s :stop)
      v)))

;; A naive call with raw !/receive: the reply carries no tag, so after a
;; timeout the late reply to the first call is taken as the second's reply.
;; The server is busy for 20 ms when a [:job 20] reaches it first.
(defn- slow-server []
  (receive [:job ms] (do (receive :never nil (after ms nil)) (recur))
           [:call from n] (do (! from [:reply (* 10 n)]) (recur))
           :stop nil))

(defn- naive-call [srv n]
  (! srv [:call (self) n])
  (receive [:reply r] r (after 10 :timeout)))

(defn late-reply []
  (let [srv (spawn slow-server)]
    (spawn (fn [] (! srv [:job 20])))
    (let [r1 (naive-call srv 1)
          r2 (naive-call srv 2)]
      (! srv :stop)
      [r1 r2])))

(defn- found [res]
  (and (false? (:pass? res)) (<= (long (:num-tests res)) 100)))

(deftest finds-registry-race
  (when-available
    (is (= [:exists :registered] (tt/run-deterministic {} registry-race)) "fine without preemption")
    (let [res (tt/check-interleavings {:quiet? true} registry-race #(= [:exists :registered] %))]
      (is (found res) "found within the default 100 trials")
      (is (= [:badarg :registered] (get-in res [:run :result])))
      (is (= 1 (count (:preemptions (:schedule res)))) "shrunk to a single preemption")
      (is (re-find #"whereis :the-one => nil(?s).*whereis :the-one => nil" (:report res))
          "the trace shows both tasklets looking before either registers")
      (is (re-find #"sent \[:outcome :badarg\]" (:report res))))))

(deftest finds-lost-update
  (when-available
    (is (contains? (set (for [seed (range 20)] (tt/run-deterministic {:seed seed} lost-update))) 2)
        "some schedules get it right")
    (let [res (tt/check-interleavings {:quiet? true} lost-update #(= 2 %))]
      (is (found res))
      (is (= 1 (get-in res [:run :result])))
      (is (= [] (:preemptions (:schedule res))) "it needs no preemption at all")
      (is (re-find #"took \[:value 0\](?s).*took \[:value 0\]" (:report res))
          "both incrementers read 0")
      (is (re-find #"sent \[:put 1\](?s).*sent \[:put 1\]" (:report res))
          "and both write 1"))))

(deftest finds-late-reply
  (when-available
    (is (= [10 :timeout] (tt/run-deterministic {} late-reply)) "fine without preemption")
    (let [res (tt/check-interleavings {:quiet? true} late-reply #(not= 10 (second %)))]
      (is (found res))
      (is (= [:timeout 10] (get-in res [:run :result])))
      (is (= 1 (count (:preemptions (:schedule res)))) "shrunk to a single preemption")
      (is (re-find #"sent \[:job 20\]" (:report res)) "the job that makes the server late")
      (is (re-find #"virtual time \+10" (:report res)) "the first call times out")
      (is (re-find #"took \[:reply 10\]" (:report res)) "the late reply taken by the second call"))))

(deftest report-is-printed
  (when-available
    (let [out (with-out-str (tt/check-interleavings {:seed 1} lost-update #(= 2 %)))]
      (is (re-find #"test.check seed 1\b" out))
      (is (re-find #"shrunk schedule: \{:preemptions \[" out))
      (is (re-find #"trace \(step" out)))))

(deftest passing-property
  (when-available
    (let [res (tt/check-interleavings {:num-tests 30}
                                      (fn [] (let [me (self)]
                                               (dotimes [i 3] (spawn (fn [] (! me i))))
                                               (sort [(receive m m) (receive m m) (receive m m)])))
                                      #(= [0 1 2] %))]
      (is (true? (:pass? res))))))

;; alive?, link, monitor and friends are switch points: a check-then-act
;; between `alive?` and `link` can be preempted (before, the two ran as one
;; step and this race could not be seen), and the shrunk trace shows where.
(defn- link-if-alive []
  (t/trap-exit! true)
  (let [w (spawn (fn [] (receive :stop nil)))]
    (spawn (fn [] (t/exit w :kill)))
    (if (t/alive? w)
      (do (t/link w)
          (receive [:EXIT w :noproc] :raced-noproc
                   [:EXIT w :killed] :linked-then-killed))
      :dead-before-check)))

(deftest finds-check-then-act-on-alive
  (when-available
    (let [res (tt/check-interleavings {:seed 3 :quiet? true} link-if-alive #(not= :raced-noproc %))]
      (is (false? (:pass? res)) "some schedule kills the worker between alive? and link")
      (is (re-find #"alive\? <\d+> => true" (:report res)) "the trace shows the check")
      (is (re-find #"sent exit signal :kill" (:report res)) "and the racing kill"))
    (testing "no preemption: no race"
      (is (not= :raced-noproc (tt/run-deterministic {} link-if-alive))))))
