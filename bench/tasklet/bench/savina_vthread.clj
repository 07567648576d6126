(ns tasklet.bench.savina-vthread
  "The three Savina workloads (see tasklet.bench.savina-tasklet) as a JVM
  programmer writes them by hand: one virtual thread per actor, the
  ConcurrentLinkedQueue mailbox of tasklet.bench.vthread-peer. Messages are
  the same vectors the tasklet peer sends; a mailbox stands for a pid.

  Each returns a map of figures and checks its counts."
  (:require [tasklet.bench.util :as u]
            [tasklet.bench.vthread-peer :as vt])
  (:import [java.util SplittableRandom]
           [java.util.concurrent CountDownLatch]
           [java.util.concurrent.atomic LongAdder]
           [tasklet.bench.vthread_peer Mailbox]))

(set! *warn-on-reflection* true)

(defn- start [^Runnable f] (Thread/startVirtualThread f))

(defn- big-actor
  "An actor's body: answer every [:ping from] with :pong; on each :pong send
  the next ping, or count down `done` after the last; on :stop add its
  answered pings to `answered` and count down `stopped`."
  [^Mailbox in ^objects peers idx pings ^CountDownLatch done ^LongAdder answered ^CountDownLatch stopped]
  (fn []
    (let [idx (long idx) pings (long pings)
          rnd (SplittableRandom. (+ 42 idx))
          k (alength peers)
          ping! (fn [] (let [j (.nextInt rnd (dec k))
                             j (if (>= j idx) (inc j) j)]
                         (.put ^Mailbox (aget peers j) [:ping in])))]
      (ping!)
      (loop [sent 1 n 0]
        (let [m (.take in)]
          (cond
            (identical? m :pong) (if (< sent pings)
                                   (do (ping!) (recur (inc sent) n))
                                   (do (.countDown done) (recur sent n)))
            (identical? m :stop) (do (.add answered n) (.countDown stopped))
            :else (do (.put ^Mailbox (nth m 1) :pong) (recur sent (inc n)))))))))

(defn big
  "Savina Big on virtual threads: msgs/s counts pings and pongs. Every
  mailbox exists before the first thread starts (a thread's first message
  may be a ping)."
  [{:keys [big-actors pings]}]
  (let [n (long big-actors)
        done (CountDownLatch. n)
        stopped (CountDownLatch. n)
        answered (LongAdder.)
        t0 (u/now)
        boxes (let [a (object-array n)] (dotimes [i n] (aset a i (vt/mailbox))) a)]
    (dotimes [i n] (start (big-actor (aget boxes i) boxes i pings done answered stopped)))
    (u/await-latch! done "Big")
    (let [dt (- (u/now) t0)]
      (dotimes [i n] (.put ^Mailbox (aget boxes i) :stop))
      (u/await-latch! stopped "Big stop")
      (u/check! "Big pings answered" (* n (long pings)) (.sum answered))
      {:msgs-per-s (u/per-second (* 2 n (long pings)) dt)})))

(defn- chameneo [^Mailbox in ^Mailbox mall colour]
  (fn []
    (.put mall [:meet in colour])
    (loop [colour colour meets 0]
      (let [m (.take in)]
        (if (identical? m :stop)
          (.put mall [:meets meets])
          (let [[tag a b] m]
            (if (identical? tag :meet-with)
              (let [c' (u/complement-colour colour b)]
                (.put ^Mailbox a [:change c'])
                (.put mall [:meet in c'])
                (recur c' (inc meets)))
              (do (.put mall [:meet in a]) (recur a (inc meets))))))))))

(defn chameneos
  "Savina Chameneos on virtual threads, the mall being one more: meetings/s."
  [{:keys [chameneos meetings]}]
  (let [n (long chameneos)
        meetings (long meetings)
        mall (vt/mailbox)
        colours [:blue :red :yellow]
        result (promise)
        t0 (u/now)]
    (start (u/guarded result
                      (fn []
                        (dotimes [i n] (start (chameneo (vt/mailbox) mall (colours (mod i 3)))))
                        (loop [waiting nil held 0 reported 0 total 0 t1 0]
                          (if (< reported n)
                            (let [[tag a c] (.take mall)]
                              (cond
                                (identical? tag :meets) (recur waiting held (inc reported) (+ total (long a)) t1)
                                (== held meetings) (do (.put ^Mailbox a :stop) (recur waiting held reported total t1))
                                (nil? waiting) (recur [a c] held reported total t1)
                                :else (let [held (inc held)]
                                        (.put ^Mailbox (nth waiting 0) [:meet-with a c])
                                        (recur nil held reported total (if (== held meetings) (u/now) t1)))))
                            (deliver result [(- (long t1) t0) held total]))))))
    (let [[dt held total] (u/await! result "Chameneos")]
      (u/check! "Chameneos meetings held" meetings held)
      (u/check! "Chameneos meetings counted by the chameneos" (* 2 meetings) total)
      {:meetings-per-s (u/per-second meetings dt)})))

(defn fjc
  "Savina Fork-Join create on virtual threads: actors/s."
  [{:keys [actors]}]
  (let [n (long actors)
        sum (LongAdder.)
        latch (CountDownLatch. n)
        t0 (u/now)]
    (dotimes [i n]
      (let [mb (vt/mailbox)]
        (start (fn []
                 (let [i (long (.take mb))
                       s (Math/sin (+ 37.2 (* 1e-12 (double i))))
                       r (* s s)]
                   (when (> r 1.5) (throw (ex-info "sin^2 > 1" {:r r})))
                   (.add sum i)
                   (.countDown latch))))
        (.put mb i)))
    (u/await-latch! latch "Fork-Join create")
    (let [dt (- (u/now) t0)]
      (u/check! "Fork-Join create checksum" (quot (* n (dec n)) 2) (.sum sum))
      {:actors-per-s (u/per-second n dt)})))
