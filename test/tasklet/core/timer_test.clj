(ns tasklet.core.timer-test
  "Timers (doc/reference.md §7): send-after, exit-after, send-interval, cancel-timer,
  read-timer. Every test runs in every mode of tasklet.harness/defsystest:
  on the real node with the real clock, then under the deterministic
  scheduler in virtual time (where a delay is exact, so the due times are
  checked exactly there and as lower bounds on the real clock)."
  (:require [clojure.test :refer [deftest is testing use-fixtures]]
            [tasklet.harness :refer [defsystest quiet-crash-reports]]
            [tasklet.core :as t :refer [! receive self spawn spawn-monitor]]
            [tasklet.core.support])
  (:import [tasklet.kernel Node NodeTable]))

(set! *warn-on-reflection* true)

(use-fixtures :once quiet-crash-reports)

(defn- next-msg
  ([] (next-msg 5000))
  ([ms] (receive m m (after ms ::none))))

(defn- pending [] (.pending (.userTimers (Node/current))))

(defn- virtual? [] (not= "nonode" (.-name (Node/current))))

(defn- await-down [ref] (receive [:DOWN ref :process _ r] r (after 5000 ::no-down)))

;; send-after delivers after the delay on the node's clock (exactly, in virtual time); read-timer counts down; a fired timer reads and cancels as false.
(defsystest send-after-fires-after-the-delay
  (let [t0 (t/monotonic-ms)
        tref (t/send-after 50 (self) [:ping 1])
        left (t/read-timer tref)]
    (is (<= 1 left 50))
    (is (= [:ping 1] (next-msg)))
    (let [elapsed (- (t/monotonic-ms) t0)]
      (is (<= 50 elapsed))
      (when (virtual?) (is (= 50 elapsed) "exact in virtual time")))
    (is (false? (t/read-timer tref)))
    (is (false? (t/cancel-timer tref)))
    (testing "a zero delay fires at once"
      (t/send-after 0 (self) :now)
      (is (= :now (next-msg))))))

;; cancel-timer returns the ms left and the message never comes; a second cancel is false.
(defsystest cancel-timer-stops-it
  (let [tref (t/send-after 100 (self) :never)]
    (is (<= 1 (t/cancel-timer tref) 100))
    (is (false? (t/cancel-timer tref)))
    (is (false? (t/read-timer tref)))
    (is (= ::none (next-msg 200)))
    (when (virtual?) (is (= 0 (pending))))))

;; send-after to a name resolves the name when the timer fires, not when it starts; nobody registered then: dropped quietly.
(defsystest send-after-to-a-name-resolves-at-fire-time
  (let [me (self)
        nm (keyword "timer-test" (str "late-" (t/monotonic-ms) "-" (rand-int 1000000)))]
    (t/send-after 50 nm :for-whoever)
    (t/send-after 60 ::nobody :lost)
    (let [[p ref] (spawn-monitor (fn [] (! me [:got (receive m m (after 5000 ::none))])))]
      (t/register nm p)
      (is (= [:got :for-whoever] (next-msg)))
      (is (= :normal (await-down ref)))
      (is (= ::none (next-msg 100))))))

;; a timer to a pid is cancelled when that tasklet ends: it is no longer pending (it retains nothing), and cancel/read say false.
(defsystest timer-to-a-dead-pid-is-dropped
  (let [before (pending)
        [p ref] (spawn-monitor (fn [] (receive :never nil)))
        trefs (doall (for [i (range 100)] (t/send-after (+ 1000 i) p [:tick i])))
        iref (t/send-interval 10 p :tick)]
    (is (= (+ before 101) (pending)))
    (t/exit p :kill)
    (is (= :killed (await-down ref)))
    (is (= before (pending)) "all its timers are gone from the heap")
    (is (every? false? (map t/read-timer trefs)))
    (is (false? (t/cancel-timer iref)))
    (testing "a timer to a pid that is already dead never becomes pending"
      (is (false? (t/read-timer (t/send-after 10 p :x))))
      (is (= before (pending))))))

;; exit-after signals the target as the caller would: a trapping target gets [:EXIT caller reason], another ends with the reason; cancelled, nothing happens.
(defsystest exit-after-signals
  (let [me (self)
        [p ref] (spawn-monitor (fn [] (receive :never nil)))
        [q qref] (spawn-monitor (fn [] (t/trap-exit! true) (! me [:trapping]) (! me [:got (receive m m)])))
        [r rref] (spawn-monitor (fn [] (receive :stop :stopped)))]
    (is (= [:trapping] (next-msg)))
    (t/exit-after 30 p :timed-out)
    (t/exit-after 30 q :timed-out)
    (let [cancelled (t/exit-after 30 r :timed-out)]
      (is (<= 1 (t/cancel-timer cancelled) 30)))
    (is (= :timed-out (await-down ref)))
    (is (= [:got [:EXIT me :timed-out]] (next-msg)))
    (is (= :normal (await-down qref)))
    (is (= ::none (next-msg 100)))
    (! r :stop)
    (is (= :normal (await-down rref)) "the cancelled exit never came")))

;; send-interval sends every ms, due at start + k*ms, until cancelled; or until its destination ends.
(defsystest send-interval-repeats-until-cancelled
  (let [t0 (t/monotonic-ms)
        tref (t/send-interval 20 (self) :tick)
        times (vec (for [_ (range 4)] (do (receive :tick nil (after 5000 nil)) (- (t/monotonic-ms) t0))))]
    (is (apply <= times))
    (is (<= 80 (peek times)))
    (when (virtual?) (is (= [20 40 60 80] times) "exact in virtual time"))
    (is (<= 1 (t/read-timer tref) 20))
    (is (<= 0 (t/cancel-timer tref) 20))
    (receive :tick nil (after 0 nil))   ; one may have fired just before the cancel
    (is (= ::none (next-msg 60)) "no tick after the cancel")
    (is (false? (t/read-timer tref))))
  (testing "it stops when its destination ends"
    (let [before (pending)
          [p ref] (spawn-monitor (fn [] (receive :stop nil)))
          tref (t/send-interval 5 p :tick)]
      (! p :stop)
      (is (= :normal (await-down ref)))
      (is (false? (t/read-timer tref)))
      (is (= before (pending))))))

;; many timers: each fires once, in due order (checked in virtual time, where starting them takes no time), and a cancelled one never fires.
(defsystest many-timers-fire-in-due-order {:max-steps 500000}
  (let [rnd (java.util.Random. 14)
        delays (vec (repeatedly 2000 #(+ 1000 (.nextInt rnd 100))))
        trefs (mapv (fn [i d] (t/send-after d (self) [:t i d])) (range) delays)
        cancelled (set (filter odd? (range 2000)))]
    (doseq [i cancelled] (is (number? (t/cancel-timer (trefs i)))))
    (let [got (vec (for [_ (range 1000)] (receive [:t i d] [i d] (after 5000 nil))))]
      (is (= (set (remove cancelled (range 2000))) (set (map first got))))
      (when (virtual?) (is (apply <= (map second got)) "in due order"))
      (is (= ::none (next-msg 150)) "nothing cancelled came"))))

;; bad delays, destinations and refs are refused with :badarg.
(deftest timers-refuse-bad-arguments
  (doseq [f [#(t/send-after -1 (self) :x) #(t/send-after 1.5 (self) :x) #(t/send-after 10 "pid" :x)
             #(t/send-interval 0 (self) :x) #(t/exit-after 10 :name :x) #(t/cancel-timer :x)
             #(t/read-timer nil)]]
    (is (= :badarg (try (f) nil (catch clojure.lang.ExceptionInfo e (:tasklet/error (ex-data e))))))))

;; the bench's measurement of bytes per pending timer runs (a tiny n: correctness only, no figure is checked against a bound).
(deftest bytes-per-pending-timer-measures
  (require 'tasklet.bench.timers)
  (let [{:keys [n bytes-per pending pending-after]} ((resolve 'tasklet.bench.timers/bytes-per-pending-timer) 1000)]
    (is (= 1000 n pending))
    (is (= 0 pending-after))
    (is (number? bytes-per))))

(defn- timers-to-a-doomed-tasklet
  "Timer refs to a tasklet that ends by itself soon, and weak references to
  the message they carry and to the tasklet (nothing else references them
  once it has ended)."
  []
  (let [msg (Object.)
        p (spawn (fn [] (receive (after 20 nil))))
        trefs (doall (for [i (range 10)] (t/send-after (+ 60000 i) p msg)))]
    [trefs (java.lang.ref.WeakReference. msg) (java.lang.ref.WeakReference. (NodeTable/resolve p))]))

;; once its destination has ended, a timer retains nothing, even while its ref is kept: the message can be collected. (Normal mode only: it waits for the GC.)
(deftest dead-pid-timer-retains-nothing
  (let [[trefs ^java.lang.ref.WeakReference w ^java.lang.ref.WeakReference wt] (timers-to-a-doomed-tasklet)]
    (is (tasklet.core.support/eventually #(every? false? (map t/read-timer trefs))))
    (is (tasklet.core.support/eventually #(do (System/gc) (nil? (.get w)))) "the message was collected")
    (is (tasklet.core.support/eventually #(do (System/gc) (nil? (.get wt)))) "the tasklet was collected")
    (is (= 10 (count trefs)))))
