(ns tasklet.kernel.wake-test
  "Tasklet.wake and the receive that parks (the permit protocol, doc/adr/0008):
  a parked receiver is resumed by the cas of whoever wins it, with no permit;
  a busy one gets a permit that its next receive finding nothing takes. No
  wake-up may be lost whichever side is where: a receiver that parks after
  almost every message, senders on both workers and on plain threads, exit
  signals and timeouts arriving while it parks. Every wait is bounded: a lost
  wake-up shows as a timeout, not a hang."
  (:require [clojure.test :refer [deftest is testing]]
            [tasklet.core :as t :refer [spawn spawn-monitor ! receive self]]))

(set! *warn-on-reflection* true)

(defn- jitter
  "Spin for a random few hundred nanoseconds, so that a sender's message
  lands at every point of the receiver's scan-park-resume cycle."
  [^java.util.Random rnd]
  (dotimes [_ (.nextInt rnd 64)] (Thread/onSpinWait)))

(defn- sender [to id n seed]
  (let [rnd (java.util.Random. (long seed))]
    (dotimes [i n]
      (jitter rnd)
      (! to [:m id i]))))

(defn- counting-receiver
  "Take senders x n messages, checking each sender's order, now and then
  with a receive that times out at once or after 1 ms in between; report
  [:counted total in-order?] to owner."
  [owner senders n]
  (let [next-of (long-array senders)]
    (loop [k 0 ok true]
      (if (< k (* (long senders) (long n)))
        (receive
          [:m s i] (let [want (aget next-of s)]
                     (aset next-of s (inc want))
                     (when (zero? (mod k 97)) (receive (after 0 nil)))
                     (when (zero? (mod k 1009)) (receive :never nil (after 1 nil)))
                     (recur (inc k) (and ok (= i want)))))
        (! owner [:counted k ok])))))

;; 4 tasklet senders (spawned from this thread: they land on either worker)
;; and 2 plain-thread senders, 20,000 messages each, to one receiver.
(deftest no-wake-up-is-lost
  (dotimes [round 3]
    (let [me (self)
          n 20000
          r (spawn counting-receiver me 6 n)]
      (dotimes [id 4] (spawn sender r id n (+ (* 10 round) id)))
      (let [threads (doall (for [id [4 5]] (future (sender r id n (+ (* 10 round) id)))))]
        (is (= [:counted (* 6 n) true]
               (receive [:counted k ok] [:counted k ok] (after 20000 :lost-wake-up)))
            (str "round " round))
        (run! deref threads)))))

;; Request/reply, one message in flight per requester, so a single lost
;; wake-up stalls a chain for good: 2 tasklet and 2 plain-thread requesters,
;; 10,000 round trips each, with a server that spins a random moment after
;; each reply (so the next request lands while it is busy, scanning, parking
;; or parked).
(deftest no-wake-up-is-lost-in-request-reply
  (let [me (self)
        server (spawn (fn []
                        (let [rnd (java.util.Random. 7)]
                          (loop []
                            (receive
                              [:req from i] (do (! from [:rep i]) (jitter rnd) (recur))
                              :stop nil)))))
        requester (fn [seed]
                    (let [rnd (java.util.Random. (long seed))]
                      (loop [i 0]
                        (if (< i 10000)
                          (do (! server [:req (self) i])
                              (jitter rnd)
                              (receive [:rep i] (recur (inc i)) (after 10000 [:stalled i])))
                          :done))))
        ts (doall (for [seed [1 2]] (spawn (fn [] (! me [:requester (requester seed)])))))
        fs (doall (for [seed [3 4]] (future (requester seed))))]
    (is (= [:done :done] (mapv #(deref % 30000 :timeout) fs)))
    (is (= [:done :done] (vec (for [_ ts] (receive [:requester r] r (after 30000 :timeout))))))
    (! server :stop)))

;; A ping-pong pair where one side is killed from a plain thread at a
;; random moment: it parks and resumes thousands of times a second, and the
;; signal must end it wherever it is (parking, parked, busy with a permit).
(deftest an-exit-signal-reaches-a-busy-or-parking-tasklet
  (let [rnd (java.util.Random. 42)]
    (dotimes [_ 200]
      (let [pong (spawn (fn [] (loop [] (receive [:ping from] (do (! from :pong) (recur))))))
            [p ref] (spawn-monitor (fn [] (loop [] (! pong [:ping (self)]) (receive :pong (recur)))))]
        (jitter rnd)
        (t/exit p :kill)
        (is (= :killed (receive [:DOWN ref :process _ reason] reason (after 5000 :not-ended))))
        (t/exit pong :kill)))))

;; A receive with a timeout, woken by messages that never match while it
;; waits, times out or takes its message, never neither; after a timeout the
;; matching message is taken by the next receive: the timer's wake-up and the
;; senders' race.
(deftest timeouts-and-wake-ups-race
  (dotimes [_ 50]
    (let [me (self)
          r (spawn (fn []
                     (let [a (receive :go :early (after 2 :timed-out))]
                       (! me [:result a (if (= :timed-out a) (receive :go :late (after 5000 :lost)) :none)]))))
          noise (future (dotimes [i 200] (! r [:noise i])))]
      @noise
      (! r :go)
      (is (contains? #{[:timed-out :late] [:early :none]}
                     (receive [:result a b] [a b] (after 10000 :no-result)))))))
