(ns tasklet.observe-test
  "tasklet.observe: tracing, the process table, scheduler statistics and the
  JMX bean. These run on the node's real scheduler, so every wait is bounded
  (`wait-ms`) and tests synchronise on messages, never on sleeps; the one
  negative check (no trace after untrace) waits a short fixed time for
  messages that must not come."
  (:require [clojure.string :as str]
            [clojure.test :refer [deftest is testing]]
            [tasklet.core :as t :refer [! receive self spawn]]
            [tasklet.observe :as obs]
            [tasklet.test :as tt])
  (:import [clojure.lang ExceptionInfo]
           [java.io StringWriter]
           [java.lang.management ManagementFactory]
           [javax.management ObjectName]))

(set! *warn-on-reflection* true)

(def ^:private wait-ms 5000)

(defn- next-trace
  "The next [:trace ...] message for pid, within wait-ms, else ::none."
  [pid]
  (receive [:trace pid & more] (into [:trace pid] more) (after wait-ms ::none)))

(defn- echo
  "Waits for [:go from], then spawn-links a child that ends at once, answers
  :pong and ends :normal."
  []
  (receive [:go from]
           (do (t/spawn-link (fn [] (receive :bye nil (after 0 nil))))
               (! from :pong))))

(deftest trace-delivers-events-in-order
  (let [me (self)
        p (spawn echo)]
    (is (= me (obs/trace p)))
    (! p [:go me])
    (is (= [:trace p :receive [:go me]] (next-trace p)))
    (let [[_ _ what child :as spawn-msg] (next-trace p)]
      (is (= :spawn what) (pr-str spawn-msg))
      (is (= [:trace p :link child] (next-trace p)))
      (is (= [:trace p :send :pong me] (next-trace p))))
    (is (= [:trace p :exit :normal] (next-trace p)))
    (is (= :pong (receive :pong :pong (after wait-ms ::none))))))

(deftest trace-event-filter-and-untrace
  (let [me (self)
        p (spawn (fn [] (loop [] (receive [:echo from x] (do (! from x) (recur)) :stop nil))))]
    (obs/trace p {:events #{:send}})
    (! p [:echo me 1])
    (is (= [:trace p :send 1 me] (next-trace p)))
    (is (= 1 (receive 1 1 (after wait-ms ::none))))
    (obs/untrace p)
    (! p [:echo me 2])
    (is (= 2 (receive 2 2 (after wait-ms ::none))))
    (is (= ::quiet (receive [:trace p & _] ::traced (after 100 ::quiet))) "nothing after untrace")
    (! p :stop)
    (is (true? (obs/untrace p)))))

(deftest trace-set-on-spawn
  (let [me (self)
        p (spawn (fn [] (receive :go (spawn (fn [] (! me :child-done))))))]
    (obs/trace p {:events #{:spawn :send} :set-on-spawn true})
    (! p :go)
    (let [[_ _ what child] (next-trace p)]
      (is (= :spawn what))
      (is (= [:trace child :send :child-done me] (next-trace child))))
    (is (= :child-done (receive :child-done :child-done (after wait-ms ::none))))))

(deftest trace-badarg
  (let [p (spawn (fn [] (receive :stop nil)))]
    (is (= :badarg (:tasklet/error (ex-data (try (obs/trace p {:tracer p}) (catch ExceptionInfo e e))))))
    (is (= :badarg (:tasklet/error (ex-data (try (obs/trace :nope) (catch ExceptionInfo e e))))))
    (is (= :badarg (:tasklet/error (ex-data (try (obs/trace p {:events #{:bogus}}) (catch ExceptionInfo e e))))))
    (! p :stop)))

(deftest printing-tracer-prints
  (let [sw (StringWriter.)
        tracer (binding [*out* sw] (obs/printing-tracer))
        p (spawn (fn [] (receive :hello nil)))]
    (obs/trace p {:tracer tracer})
    (! p :hello)
    (let [deadline (+ (System/currentTimeMillis) wait-ms)]
      (loop []
        (when (and (not (str/includes? (str sw) "exited :normal"))
                   (< (System/currentTimeMillis) deadline))
          (receive :never nil (after 10 nil))
          (recur))))
    (is (re-find #"took :hello" (str sw)))
    (is (re-find #"exited :normal" (str sw)))
    (! tracer :stop)))

(deftest trace-under-deterministic-scheduler
  (when (tt/available?)
    (let [run #(tt/with-deterministic-scheduler {:seed 5}
                 (let [me (self)
                       p (spawn (fn [] (receive x (! me [:got x]))))]
                   (obs/trace p)
                   (! p :x)
                   [(receive [:trace _ :receive m] m) (receive [:got x] x)]))]
      (is (= [:x :x] (run) (run))))))

(deftest process-table-sorted-by-mailbox
  (let [p (spawn (fn [] (receive :never-sent nil)))]
    (t/register ::busy p)
    (dotimes [i 5] (! p [:junk i]))
    (let [rows (obs/process-table)
          row (first (filter #(= p (:pid %)) rows))]
      (is (= 5 (:mailbox row)))
      (is (= ::busy (:name row)))
      (is (#{:waiting :runnable :running} (:status row)) "a snapshot: it may be scanning its mailbox")
      (is (string? (:fn row)))
      (is (apply >= (map :mailbox rows)) "biggest mailbox first")
      (is (str/includes? (with-out-str (obs/print-process-table rows)) (str ::busy))))
    (t/exit p :kill)))

(deftest scheduler-stats-map
  (self)
  (let [s (obs/scheduler-stats)]
    (is (#{:continuation :virtual} (:strand s)))
    (is (pos? (:tasklets-alive s)) "at least this thread's tasklet")
    (when (= :continuation (:strand s))
      (is (vector? (:run-queue-lengths s)))
      (is (every? #(contains? s %) [:parallelism :workers :steals :wake-ups :compensations :idle-workers])))))

(deftest jmx-bean
  (let [on (obs/register-mbean!)
        server (ManagementFactory/getPlatformMBeanServer)]
    (try
      (is (= on (obs/register-mbean!)) "idempotent")
      (is (str/starts-with? (str on) "tasklet:type=Scheduler,node="))
      (is (pos? (long (.getAttribute server ^ObjectName on "TaskletsAlive"))))
      (is (#{"continuation" "virtual"} (.getAttribute server ^ObjectName on "Strand")))
      (is (some? (.getAttribute server ^ObjectName on "RunQueueLengths")))
      (is (<= 0 (long (.getAttribute server ^ObjectName on "Steals"))))
      (is (<= 0 (long (.getAttribute server ^ObjectName on "WakeUps"))))
      (finally (obs/unregister-mbean!)))
    (is (not (.isRegistered server on)))))
