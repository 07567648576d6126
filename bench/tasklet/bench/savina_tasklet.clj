(ns tasklet.bench.savina-tasklet
  "Three Savina workloads (Imam and Sarkar 2014: Big, Chameneos, Fork-Join
  create) written with tasklet's public API, from their definitions. The
  measuring thread (a plain thread, as at the REPL) spawns the first
  tasklets on the given node (tasklet.bench.tasklet-peer/spawn-on); tasklets
  they spawn inherit it, so one namespace serves both strands.

  Each returns a map of figures and checks its counts (tasklet.bench.util/check!)."
  (:require [tasklet.bench.tasklet-peer :as tp]
            [tasklet.bench.util :as u]
            [tasklet.core :as t :refer [receive]])
  (:import [clojure.lang Var]
           [tasklet.kernel Node])
  (:import [java.util SplittableRandom]
           [java.util.concurrent CountDownLatch]
           [java.util.concurrent.atomic LongAdder]))

(set! *warn-on-reflection* true)

;; ---------------------------------------------------------------------------
;; Big: every actor pings random others; each ping is answered with a pong,
;; and a pong makes the actor send its next ping, until it has sent `pings`.

(defn- big-actor
  "Wait for the peers' pids, then run: answer every [:ping from] with :pong;
  on each :pong send the next ping, or tell the sink [:done] after the last
  pong. On :stop report [:answered n] to the sink."
  [idx pings sink]
  (let [pings (long pings)
        idx (long idx)
        rnd (SplittableRandom. (+ 42 idx))
        me (t/self)]
    (receive
      [:peers ^objects peers]
      (let [k (alength peers)
            ping! (fn [] (let [j (.nextInt rnd (dec k))
                               j (if (>= j idx) (inc j) j)]
                           (t/! (aget peers j) [:ping me])))]
        (ping!)
        (loop [sent 1 answered 0]
          (receive
            [:ping from] (do (t/! from :pong) (recur sent (inc answered)))
            :pong (if (< sent pings)
                    (do (ping!) (recur (inc sent) answered))
                    (do (t/! sink :done) (recur sent answered)))
            :stop (t/! sink [:answered answered])))))))

(defn- big-sink
  "Start the actors, wait for every :done, stop them and sum their answered
  pings; delivers [ns answered]."
  [n pings done]
  (let [me (t/self)
        pids (object-array n)
        t0 (u/now)]
    (dotimes [i n] (aset pids i (t/spawn big-actor i pings me)))
    (dotimes [i n] (t/! (aget pids i) [:peers pids]))
    (dotimes [_ n] (receive :done nil))
    (let [dt (- (u/now) t0)]
      (dotimes [i n] (t/! (aget pids i) :stop))
      (deliver done [dt (loop [i 0 sum 0]
                          (if (< i n) (receive [:answered a] (recur (inc i) (+ sum (long a)))) sum))]))))

(defn big
  "Savina Big: big-actors tasklets each send `pings` pings to random others,
  each answered: msgs/s counts pings and pongs."
  [^Node node {:keys [big-actors pings]}]
  (let [n (long big-actors)
        done (promise)]
    (tp/spawn-on node (Var/cloneThreadBindingFrame) (u/guarded done #(big-sink n pings done)))
    (let [[dt answered] (u/await! done "Big")]
      (u/check! "Big pings answered" (* n (long pings)) answered)
      {:msgs-per-s (u/per-second (* 2 n (long pings)) dt)})))

;; ---------------------------------------------------------------------------
;; Chameneos: every chameneo asks the mall for a meeting; the mall pairs two
;; arrivals; the pair change colour; after `meetings` the mall stops each
;; chameneo that asks again.

(defn- chameneo [mall colour]
  (let [me (t/self)]
    (t/! mall [:meet me colour])
    (loop [colour colour meets 0]
      (receive
        [:meet-with other c] (let [c' (u/complement-colour colour c)]
                               (t/! other [:change c'])
                               (t/! mall [:meet me c'])
                               (recur c' (inc meets)))
        [:change c] (do (t/! mall [:meet me c]) (recur c (inc meets)))
        :stop (t/! mall [:meets meets])))))

(defn- mall [n-chameneos meetings done]
  (let [me (t/self)
        n (long n-chameneos)
        meetings (long meetings)
        colours [:blue :red :yellow]
        t0 (u/now)]
    (dotimes [i n] (t/spawn chameneo me (colours (mod i 3))))
    ;; a stopped chameneo's [:meets m] can come before the last one is stopped
    (loop [waiting nil held 0 reported 0 total 0 t1 0]
      (if (< reported n)
        (receive
          [:meet from c] (cond
                           (== held meetings) (do (t/! from :stop) (recur waiting held reported total t1))
                           (nil? waiting) (recur [from c] held reported total t1)
                           :else (let [held (inc held)]
                                   (t/! (nth waiting 0) [:meet-with from c])
                                   (recur nil held reported total (if (== held meetings) (u/now) t1))))
          [:meets m] (recur waiting held (inc reported) (+ total (long m)) t1))
        (deliver done [(- t1 t0) held total])))))

(defn chameneos
  "Savina Chameneos: `chameneos` tasklets meet through one mall tasklet
  `meetings` times: meetings/s."
  [^Node node {:keys [chameneos meetings]}]
  (let [done (promise)]
    (tp/spawn-on node (Var/cloneThreadBindingFrame) (u/guarded done #(mall chameneos meetings done)))
    (let [[dt held total] (u/await! done "Chameneos")]
      (u/check! "Chameneos meetings held" (long meetings) held)
      (u/check! "Chameneos meetings counted by the chameneos" (* 2 (long meetings)) total)
      {:meetings-per-s (u/per-second meetings dt)})))

;; ---------------------------------------------------------------------------
;; Fork-Join create: n actors, one message each; each computes sin(37.2)^2
;; on its message and ends.

(defn- fj-worker [^LongAdder sum ^CountDownLatch latch]
  (receive
    i (let [s (Math/sin (+ 37.2 (* 1e-12 (double i))))
            r (* s s)]
        (when (> r 1.5) (throw (ex-info "sin^2 > 1" {:r r})))
        (.add sum (long i))
        (.countDown latch))))

(defn fjc
  "Savina Fork-Join create: the measuring thread spawns `actors` tasklets
  and sends each one message: actors/s until the last has run."
  [^Node node {:keys [actors]}]
  (let [n (long actors)
        sum (LongAdder.)
        latch (CountDownLatch. n)
        fr (Var/cloneThreadBindingFrame)
        t0 (u/now)]
    (dotimes [i n] (t/! (tp/spawn-on node fr (fn [] (fj-worker sum latch))) i))
    (u/await-latch! latch "Fork-Join create")
    (let [dt (- (u/now) t0)]
      (u/check! "Fork-Join create checksum" (quot (* n (dec n)) 2) (.sum sum))
      {:actors-per-s (u/per-second n dt)})))
