(ns tasklet.bench.tasklet-peer
  "The workloads written with tasklet's public API (spawn, !, receive,
  receive-fn), run on a given kernel Node, so one namespace serves both
  strands: the default node (continuation strand) and a second node made with
  strand \"virtual\". Tasklets spawned by a tasklet inherit its node; the
  measuring thread spawns on a node with `spawn-on`.

  Every workload takes the node and its parameters (tasklet.bench.util/scaled)
  and returns a map of figures; see tasklet.bench for their meaning."
  (:require [tasklet.bench.util :as u]
            [tasklet.core :as t :refer [receive]])
  (:import [clojure.lang IFn Var]
           [java.util.concurrent CountDownLatch]
           [java.util.concurrent.atomic AtomicLong]
           [tasklet.kernel Mailbox Node NodeOptions Pid]))

(set! *warn-on-reflection* true)

(defn continuation-node
  "The JVM's default node (continuation strand when jdk.internal.vm is exported)."
  ^Node []
  (Node/local))

(defonce ^{:private true :doc "The second node, on the virtual-thread strand."} vt-node
  (delay (Node. (-> (NodeOptions/builder "bench-vt") (.strand "virtual") (.build)))))

(defn virtual-node
  "A node of this JVM on the virtual-thread strand, made on first use."
  ^Node []
  @vt-node)

(defn strand-of
  "The strand name of node (\"continuation\" or \"virtual\")."
  [^Node node]
  (.strandName node))

(defn spawn-on
  "Spawn the no-argument function f as a tasklet of node from any thread (the
  measuring thread is a plain thread). frame is the dynamic-binding frame to
  convey: take one (Var/cloneThreadBindingFrame) per workload, as
  tasklet.core/spawn shares one clone across spawns under the same frame."
  ^Pid [^Node node frame ^IFn f]
  (.spawn node f f frame nil nil nil))

(defn- frame [] (Var/cloneThreadBindingFrame))

;; ---------------------------------------------------------------------------
;; W1 spawn: n tasklets waiting in receive

(defn- waiter [^AtomicLong waiting ^CountDownLatch ended]
  (.incrementAndGet waiting)
  (receive :wake (.countDown ended)))

(defn w1
  "Spawn n tasklets that each count themselves and wait in `receive`; time
  until all are counted (spawned = running and parked in receive, not merely
  queued), heap bytes per waiting tasklet (after GC minus before), then one
  message each and the time until all have ended."
  [^Node node {:keys [n]}]
  (let [n (long n)
        waiting (AtomicLong.)
        ended (CountDownLatch. n)
        pids (object-array n)            ; allocated before the baseline: not the tasklets' memory
        fr (frame)
        before (u/heap-used)
        t0 (u/now)]
    (dotimes [i n]
      (aset pids i (spawn-on node fr (fn [] (waiter waiting ended)))))
    (u/poll-until! #(>= (.get waiting) n) "W1 tasklets parking")
    (let [t1 (u/now)
          after (u/heap-used)
          t2 (u/now)]
      (dotimes [i n] (t/! (aget pids i) :wake))
      (u/await-latch! ended "W1 tasklets ending")
      {:create-ms (u/ms (- t1 t0))
       :bytes-per (/ (- after before) (double n))
       :end-ms (u/ms (- (u/now) t2))})))

;; ---------------------------------------------------------------------------
;; W2 ping-pong

(defn- ponger [pinger]
  (loop []
    (receive
      :stop nil
      m (do (t/! pinger m) (recur)))))

(defn- pinger [n done]
  (let [n (long n)
        p (t/spawn ponger (t/self))
        t0 (u/now)]
    (loop [i 0]
      (when (< i n)
        (t/! p i)
        (receive _ (recur (inc i)))))
    (let [dt (- (u/now) t0)]
      (t/! p :stop)
      (deliver done dt))))

(defn w2
  "Two tasklets, round-trips round trips of a Long each way."
  [^Node node {:keys [round-trips]}]
  (let [done (promise)]
    (spawn-on node (frame) (u/guarded done #(pinger round-trips done)))
    (let [dt (long (u/await! done "W2 ping-pong"))]
      {:rt-per-s (u/per-second round-trips dt)
       :ns-per-hop (/ dt (* 2.0 (long round-trips)))})))

;; ---------------------------------------------------------------------------
;; W3 ring

(defn- relay
  "A ring member: pass the token on counted down; whoever gets 0 tells the
  builder (the token keeps its place in the ring until :stop)."
  [nxt builder]
  (loop []
    (receive
      :stop (t/! nxt :stop)
      k (do (if (zero? (long k))
              (t/! builder :ring-done)
              (t/! nxt (dec (long k))))
            (recur)))))

(defn- ring-head [builder]
  (receive [:link nxt] (relay nxt builder)))

(defn- ring-builder
  "Build the ring from this tasklet, as bench/erlang/erl_peer.erl builds it
  from a process, send the token round and deliver the timings."
  [ring hops done]
  (let [me (t/self)
        t0 (u/now)
        head (t/spawn ring-head me)
        tail (loop [i 1 nxt head]
               (if (< i (long ring))
                 (recur (inc i) (t/spawn relay nxt me))
                 nxt))
        _ (t/! head [:link tail])
        t1 (u/now)]
    (t/! head hops)
    (receive :ring-done nil)
    (let [t2 (u/now)]
      (t/! head :stop)
      (deliver done [(- t1 t0) (- t2 t1)]))))

(defn w3
  "A ring of `ring` tasklets built by one tasklet; a token (a Long counting
  down the hops left) goes round `rounds` times. Creation is timed until the
  last spawn returned and the ring is closed."
  [^Node node {:keys [ring rounds]}]
  (let [hops (* (long ring) (long rounds))
        done (promise)]
    (spawn-on node (frame) (u/guarded done #(ring-builder ring hops done)))
    (let [[create run] (u/await! done "W3 ring")]
      {:create-ms (u/ms create)
       :hops-per-s (u/per-second hops run)})))

;; ---------------------------------------------------------------------------
;; W4 fan-in

(defn- fan-receiver [total done]
  (let [total (long total)]
    (loop [c 0]
      (if (< c total)
        (receive [:msg _] (recur (inc c)))
        (deliver done (u/now))))))

(defn- fan-sender [r n]
  (dotimes [i (long n)] (t/! r [:msg i])))

(defn w4
  "senders tasklets each send per-sender messages [:msg i] to one receiver,
  which takes them with a `receive` pattern; timed from the first sender's
  spawn to the receiver's last message."
  [^Node node {:keys [senders per-sender]}]
  (let [total (* (long senders) (long per-sender))
        done (promise)
        fr (frame)
        r (spawn-on node fr (u/guarded done #(fan-receiver total done)))
        t0 (u/now)]
    (dotimes [_ senders] (spawn-on node fr (fn [] (fan-sender r per-sender))))
    (let [t1 (long (u/await! done "W4 fan-in"))]
      {:msgs-per-s (u/per-second total (- t1 t0))})))

;; ---------------------------------------------------------------------------
;; W7 selective receive past a backlog

(defn- call-server []
  (loop []
    (receive
      [:call from tag] (do (t/! from [tag :ok]) (recur))
      :stop nil)))

(defn- reply-to
  "The matcher of a call's reply: [tag v] with this very tag."
  [tag]
  (fn [m] (when (and (vector? m) (identical? tag (nth m 0 nil))) m)))

(defn- marked-call
  "A call that never scans the backlog (Erlang's receive marker): mark the
  mailbox's end before the request goes out, then `receive-fn` with
  from-mark true, as tasklet.server/call does."
  [me srv]
  (let [tag (t/make-ref)]
    (t/mark-mailbox!)
    (t/! srv [:call me tag])
    (t/receive-fn (reply-to tag) nil nil true)))

(defn- naive-call [me srv]
  (let [tag (t/make-ref)]
    (t/! srv [:call me tag])
    (t/receive-fn (reply-to tag))))

(defn- w7-client [{:keys [backlog round-trips naive-round-trips]} done]
  (let [me (t/self)
        mb (.mailbox (t/current-tasklet))
        srv (t/spawn call-server)]
    (dotimes [i (long backlog)] (t/! me [:noise i]))
    (let [t0 (u/now)
          _ (dotimes [_ (long round-trips)] (marked-call me srv))
          t1 (u/now)
          _ (dotimes [_ (long naive-round-trips)] (naive-call me srv))
          t2 (u/now)]
      (t/! srv :stop)
      (deliver done {:marked-us (/ (- t1 t0) 1e3 (long round-trips))
                     :naive-us (/ (- t2 t1) 1e3 (long naive-round-trips))
                     :backlog-left (.size mb)}))))

(defn w7
  "A client whose mailbox holds `backlog` non-matching messages makes
  call-style round trips (fresh ref, request, reply tagged with it) to a
  server tasklet: with the mark (the reply scan starts after the backlog) and
  naively (every reply scan walks the backlog). µs per round trip each."
  [^Node node params]
  (let [done (promise)]
    (spawn-on node (frame) (u/guarded done #(w7-client params done)))
    (u/await! done "W7 selective receive")))

;; ---------------------------------------------------------------------------
;; W8 gen-server call

(defn- server-fns
  "tasklet.server's start and call when that namespace loads and serves a
  call, else a string saying why not."
  []
  (try
    (let [start (requiring-resolve 'tasklet.server/start)
          call (requiring-resolve 'tasklet.server/call)]
      (if (and start call) [start call] "n/a (tasklet.server has no start/call)"))
    (catch Throwable e
      (str "n/a (tasklet.server does not load: " (.getMessage e) ")"))))

(def ^:private echo-impl
  {:handle-call (fn [req _from state]
                  (if (identical? req :stop) [:stop :normal :ok state] [:reply req state]))})

(defn- w8-client [start call {:keys [calls]} done]
  (let [calls (long calls)
        me (t/self)
        srv (start echo-impl nil)
        raw (t/spawn call-server)
        t0 (u/now)
        _ (dotimes [i calls] (call srv i))
        t1 (u/now)
        _ (dotimes [_ calls] (naive-call me raw))
        t2 (u/now)]
    ;; a normal stop: (exit srv :kill) sometimes crashes the server with
    ;; "Pop without matching push" on the continuation strand (reported)
    (call srv :stop)
    (t/! raw :stop)
    (deliver done {:call-ns (/ (- t1 t0) (double calls))
                   :raw-ns (/ (- t2 t1) (double calls))})))

(defn w8
  "tasklet.server/call round trips to a local echo server next to raw
  !/receive round trips of the same shape ([:call from ref] answered by
  [ref v], no monitor); ns per call each. n/a while tasklet.server is missing."
  [^Node node params]
  (let [fns (server-fns)]
    (if (string? fns)
      {:na fns}
      (let [[start call] fns
            done (promise)]
        (spawn-on node (frame) (u/guarded done #(w8-client start call params done)))
        (u/await! done "W8 gen-server call")))))
