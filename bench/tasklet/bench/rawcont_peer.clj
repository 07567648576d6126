(ns tasklet.bench.rawcont-peer
  "The floor under any continuation-based process library: W2 and W3 on raw
  jdk.internal.vm.Continuation objects driven by one thread, with a plain
  ArrayDeque as each process's mailbox and another as the run queue. No
  synchronisation, no second worker, no reductions, no selective receive:
  what a hop costs when nothing but a yield and a resume is paid.

  Every workload takes its parameters (tasklet.bench.util/scaled) and returns
  a map of figures; see tasklet.bench."
  (:require [tasklet.bench.util :as u])
  (:import [java.util ArrayDeque]
           [jdk.internal.vm Continuation ContinuationScope]))

(set! *warn-on-reflection* true)

(def ^:private ^ContinuationScope scope (ContinuationScope. "tasklet.bench.rawcont"))

(definterface IProc
  (put [msg])
  (take [])
  (start [^Runnable body])
  (step []))

;; One thread only: a process is either on the run queue or waiting, never
;; both; put re-queues a waiting process, take yields until a message is there.
(deftype Proc [^ArrayDeque runq
               ^ArrayDeque mbox
               ^:unsynchronized-mutable ^boolean waiting
               ^:unsynchronized-mutable ^Continuation cont]
  IProc
  (put [this msg]
    (.addLast mbox msg)
    (when waiting
      (set! waiting (boolean false))
      (.addLast runq this))
    nil)
  (take [_]
    (loop []
      (if-some [m (.pollFirst mbox)]
        m
        (do (set! waiting (boolean true))
            (Continuation/yield scope)
            (recur)))))
  (start [this body]
    (set! cont (Continuation. scope body))
    (.addLast runq this)
    this)
  (step [_] (.run cont) nil))

(defn- spawn ^Proc [^ArrayDeque runq ^Runnable body-fn-of-proc]
  (let [p (Proc. runq (ArrayDeque.) false nil)]
    (.start p (body-fn-of-proc p))
    p))

(defn- drive!
  "Run processes on this thread until the run queue is empty."
  [^ArrayDeque runq]
  (loop []
    (when-some [^Proc p (.pollFirst runq)]
      (.step p)
      (recur))))

(defn w2
  "Two raw continuations, round-trips round trips of a Long each way."
  [{:keys [round-trips]}]
  (let [n (long round-trips)
        runq (ArrayDeque.)
        result (long-array 2)
        pinger-box (object-array 1)
        ponger (spawn runq (fn [^Proc me]
                             (fn [] (let [^Proc pinger (aget pinger-box 0)]
                                      (loop []
                                        (let [m (.take me)]
                                          (when-not (identical? m :stop)
                                            (.put pinger m)
                                            (recur))))))))
        pinger (spawn runq (fn [^Proc me]
                             (fn []
                               (let [t0 (u/now)]
                                 (loop [i 0]
                                   (when (< i n)
                                     (.put ponger i)
                                     (.take me)
                                     (recur (inc i))))
                                 (aset result 0 (- (u/now) t0))
                                 (aset result 1 n)
                                 (.put ponger :stop)))))]
    (aset pinger-box 0 pinger)
    (drive! runq)
    (u/check! "W2 round trips" n (aget result 1))
    (let [dt (aget result 0)]
      {:rt-per-s (u/per-second n dt)
       :ns-per-hop (/ dt (* 2.0 n))})))

(defn w3
  "A ring of `ring` raw continuations; the token (hops left) goes round
  `rounds` times, as in tasklet.bench.tasklet-peer/w3."
  [{:keys [ring rounds]}]
  (let [ring (long ring)
        hops (* ring (long rounds))
        runq (ArrayDeque.)
        done (long-array 2)             ; [time the token reached 0, 1 once it has]
        relay (fn [nxt-box]
                (fn [^Proc me]
                  (fn []
                    (let [^Proc nxt (aget ^objects nxt-box 0)]
                      (loop []
                        (let [k (.take me)]
                          (if (identical? k :stop)
                            (.put nxt :stop)
                            (do (if (zero? (long k))
                                  (do (aset done 0 (u/now)) (aset done 1 1))
                                  (.put nxt (dec (long k))))
                                (recur)))))))))
        t0 (u/now)
        boxes (let [a (object-array ring)] (dotimes [i ring] (aset a i (object-array 1))) a)
        procs (let [a (object-array ring)]
                (dotimes [i ring] (aset a i (spawn runq (relay (aget boxes (mod (inc i) ring))))))
                a)
        _ (dotimes [i ring] (aset ^objects (aget boxes i) 0 (aget procs i)))
        _ (drive! runq)                 ; every relay up to its first take
        t1 (u/now)]
    (.put ^Proc (aget procs 0) hops)
    (drive! runq)
    (u/check! "W3 token reached 0" 1 (aget done 1))
    (let [t2 (aget done 0)]
      (.put ^Proc (aget procs 0) :stop)
      (drive! runq)
      {:create-ms (u/ms (- t1 t0))
       :hops-per-s (u/per-second hops (- t2 t1))})))
