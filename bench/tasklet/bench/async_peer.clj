(ns tasklet.bench.async-peer
  "The workloads as core.async `go` blocks, one channel per process as its
  mailbox. core.async has no unbounded channel, so a mailbox is a channel
  with a buffer of `mailbox-size` (a full one parks the sender: back-pressure
  that a tasklet mailbox does not have; it matters only in W4).

  Mode, as read from core.async 1.9.865's source (clojure.core.async.impl
  dispatch/go): a `go` block is the IOC state machine, dispatched on the
  :core-async-dispatch executor, which by default is the :mixed one, an
  unbounded cached pool of *platform* threads named async-mixed-N; virtual
  threads serve only io-thread. `default-mode` reports what this JVM uses.

  Every workload takes its parameters (tasklet.bench.util/scaled) and returns
  a map of figures; see tasklet.bench for their meaning."
  (:require [clojure.core.async :as a :refer [go <! >!]]
            [tasklet.bench.util :as u])
  (:import [java.util.concurrent CountDownLatch ThreadPoolExecutor]
           [java.util.concurrent.atomic AtomicLong]))

(set! *warn-on-reflection* true)

(def mailbox-size
  "The buffer of a channel standing for a mailbox."
  1024)

(defn- mailbox [] (a/chan mailbox-size))

(defn default-mode
  "How go blocks run in this JVM: the name of the thread a go block ran on
  and the executor's class, e.g. \"platform thread async-mixed-1 ...\"."
  []
  (let [^Thread th (a/<!! (go (Thread/currentThread)))
        ex (clojure.core.async.impl.dispatch/executor-for :core-async-dispatch)]
    (str (if (.isVirtual th) "virtual" "platform") " threads (a go block ran on " (.getName th) ")"
         ", executor " (.getName (class ex))
         (when (instance? ThreadPoolExecutor ex)
           (let [^ThreadPoolExecutor tpe ex]
             (str " with core " (.getCorePoolSize tpe) " and max "
                  (if (= Integer/MAX_VALUE (.getMaximumPoolSize tpe)) "unbounded" (.getMaximumPoolSize tpe))
                  " threads")))
         (when-let [f (System/getProperty "clojure.core.async.executor-factory")]
           (str ", executor-factory " f)))))

(defn w1
  "n go blocks each count themselves and park on their own channel; see
  tasklet.bench.tasklet-peer/w1."
  [{:keys [n]}]
  (let [n (long n)
        waiting (AtomicLong.)
        ended (CountDownLatch. n)
        chans (object-array n)
        before (u/heap-used)
        t0 (u/now)]
    (dotimes [i n]
      (let [c (mailbox)]
        (aset chans i c)
        (go (.incrementAndGet waiting)
            (<! c)
            (.countDown ended))))
    (u/poll-until! #(>= (.get waiting) n) "W1 go blocks parking")
    (let [t1 (u/now)
          after (u/heap-used)
          t2 (u/now)]
      (dotimes [i n] (a/put! (aget chans i) :wake))
      (u/await-latch! ended "W1 go blocks ending")
      {:create-ms (u/ms (- t1 t0))
       :bytes-per (/ (- after before) (double n))
       :end-ms (u/ms (- (u/now) t2))})))

(defn w2
  "Two go blocks, round-trips round trips of a Long each way."
  [{:keys [round-trips]}]
  (let [n (long round-trips)
        ping (mailbox)
        pong (mailbox)
        done (promise)]
    (go (loop []
          (let [m (<! ping)]
            (when-not (identical? m :stop)
              (>! pong m)
              (recur)))))
    (go (let [t0 (u/now)]
          (loop [i 0]
            (when (< i n)
              (>! ping i)
              (<! pong)
              (recur (inc i))))
          (deliver done (- (u/now) t0))
          (>! ping :stop)))
    (let [dt (long (u/await! done "W2 ping-pong"))]
      {:rt-per-s (u/per-second n dt)
       :ns-per-hop (/ dt (* 2.0 n))})))

(defn w3
  "A ring of go blocks; see tasklet.bench.tasklet-peer/w3."
  [{:keys [ring rounds]}]
  (let [ring (long ring)
        hops (* ring (long rounds))
        done (CountDownLatch. 1)
        t0 (u/now)
        chans (let [arr (object-array ring)] (dotimes [i ring] (aset arr i (mailbox))) arr)]
    (dotimes [i ring]
      (let [in (aget chans i)
            nxt (aget chans (mod (inc i) ring))]
        (go (loop []
              (let [k (<! in)]
                (if (identical? k :stop)
                  (>! nxt :stop)
                  (do (if (zero? (long k))
                        (.countDown done)
                        (>! nxt (dec (long k))))
                      (recur))))))))
    (let [t1 (u/now)
          head (aget chans 0)]
      (a/put! head hops)
      (u/await-latch! done "W3 ring")
      (let [t2 (u/now)]
        (a/put! head :stop)
        {:create-ms (u/ms (- t1 t0))
         :hops-per-s (u/per-second hops (- t2 t1))}))))

(defn w4
  "senders go blocks put [:msg i] on one receiver's channel."
  [{:keys [senders per-sender]}]
  (let [per (long per-sender)
        total (* (long senders) per)
        r (mailbox)
        done (promise)]
    (go (loop [c 0]
          (if (< c total)
            (let [m (<! r)]
              (if (and (vector? m) (identical? :msg (nth m 0)))
                (recur (inc c))
                (deliver done (ex-info "W4: unexpected message" {:msg m}))))
            (deliver done (u/now)))))
    (let [t0 (u/now)]
      (dotimes [_ senders] (go (dotimes [i per] (>! r [:msg i]))))
      {:msgs-per-s (u/per-second total (- (long (u/await! done "W4 fan-in")) t0))})))

(defn w7
  "core.async has no selective receive: the idiomatic call makes a fresh
  promise-chan per request, so the `backlog` waiting in the client's inbox
  channel is never looked at. Reported in the marked column, labelled."
  [{:keys [backlog round-trips]}]
  (let [n (long round-trips)
        inbox (a/chan (long backlog))
        srv (mailbox)
        done (promise)]
    (go (loop []
          (let [m (<! srv)]
            (when (vector? m)
              (>! (nth m 1) :ok)
              (recur)))))
    (go (dotimes [i (long backlog)] (>! inbox [:noise i]))
        (let [t0 (u/now)]
          (dotimes [_ n]
            (let [reply (a/promise-chan)]
              (>! srv [:call reply])
              (<! reply)))
          (deliver done {:marked-us (/ (- (u/now) t0) 1e3 n)
                         :naive-us nil
                         :backlog-left (count (.buf ^clojure.core.async.impl.channels.ManyToManyChannel inbox))})
          (>! srv :stop)))
    (u/await! done "W7 reply channels")))
