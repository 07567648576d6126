(ns tasklet.bench.vthread-peer
  "The baseline a JVM programmer writes by hand: one plain Java virtual thread
  per process, a ConcurrentLinkedQueue as its mailbox, LockSupport park/unpark
  to wait. The mailbox is a small deftype (compiled to the same bytecode a
  Java class would be; lein compiles Java only from src-java). No selective
  receive beyond a naive scan, no gen-server.

  Every workload takes its parameters (tasklet.bench.util/scaled) and returns
  a map of figures; see tasklet.bench for their meaning."
  (:require [tasklet.bench.util :as u])
  (:import [java.util Iterator]
           [java.util.concurrent ConcurrentLinkedQueue CountDownLatch]
           [java.util.concurrent.atomic AtomicLong]
           [java.util.concurrent.locks LockSupport]))

(set! *warn-on-reflection* true)

(definterface IMailbox
  (put [msg])
  (take [])
  (takeMatching [^clojure.lang.IFn pred])
  (^long size []))

;; Lost wake-ups are impossible: the owner publishes `waiting` (volatile
;; write) and polls again before it parks; a sender offers (a CAS) and then
;; reads `waiting`. One of the two sees the other.
(deftype Mailbox [^ConcurrentLinkedQueue q
                  ^:volatile-mutable ^Thread owner
                  ^:volatile-mutable ^boolean waiting]
  IMailbox
  (put [_ msg]
    (.offer q msg)
    (when waiting (LockSupport/unpark owner))
    nil)
  (take [this]
    (or (.poll q)
        (do (set! owner (Thread/currentThread))
            (loop []
              (set! waiting (boolean true))
              (if-some [m (.poll q)]
                (do (set! waiting (boolean false)) m)
                (do (LockSupport/park this)
                    (set! waiting (boolean false))
                    (if-some [m (.poll q)] m (recur))))))))
  (takeMatching [this pred]
    (let [scan (fn []
                 (let [it (.iterator q)]
                   (loop []
                     (when (.hasNext it)
                       (let [m (.next it)]
                         (if (pred m)
                           (do (.remove it) m)
                           (recur)))))))]
      (or (scan)
          (do (set! owner (Thread/currentThread))
              (loop []
                (set! waiting (boolean true))
                (if-some [m (scan)]
                  (do (set! waiting (boolean false)) m)
                  (do (LockSupport/park this)
                      (set! waiting (boolean false))
                      (if-some [m (scan)] m (recur)))))))))
  (size [_] (.size q)))

(defn mailbox
  "A new, empty mailbox; its owner is the thread that first waits on it."
  ^tasklet.bench.vthread_peer.Mailbox []
  (Mailbox. (ConcurrentLinkedQueue.) nil false))

(defn- start ^Thread [^Runnable f]
  (Thread/startVirtualThread f))

;; ---------------------------------------------------------------------------

(defn w1
  "n virtual threads each count themselves and wait on their mailbox; see
  tasklet.bench.tasklet-peer/w1."
  [{:keys [n]}]
  (let [n (long n)
        waiting (AtomicLong.)
        ended (CountDownLatch. n)
        boxes (object-array n)
        before (u/heap-used)
        t0 (u/now)]
    (dotimes [i n]
      (let [mb (mailbox)]
        (aset boxes i mb)
        (start (fn []
                 (.incrementAndGet waiting)
                 (.take mb)
                 (.countDown ended)))))
    (u/poll-until! #(>= (.get waiting) n) "W1 virtual threads parking")
    (let [t1 (u/now)
          after (u/heap-used)
          t2 (u/now)]
      (dotimes [i n] (.put ^Mailbox (aget boxes i) :wake))
      (u/await-latch! ended "W1 virtual threads ending")
      {:create-ms (u/ms (- t1 t0))
       :bytes-per (/ (- after before) (double n))
       :end-ms (u/ms (- (u/now) t2))})))

(defn w2
  "Two virtual threads, round-trips round trips of a Long each way."
  [{:keys [round-trips]}]
  (let [n (long round-trips)
        a (mailbox)
        b (mailbox)
        done (promise)]
    (start (fn [] (loop []
                    (let [m (.take b)]
                      (when-not (identical? m :stop)
                        (.put a m)
                        (recur))))))
    (start (u/guarded done
                      (fn []
                        (let [t0 (u/now)]
                          (dotimes [i n] (.put b i) (.take a))
                          (deliver done (- (u/now) t0))
                          (.put b :stop)))))
    (let [dt (long (u/await! done "W2 ping-pong"))]
      {:rt-per-s (u/per-second n dt)
       :ns-per-hop (/ dt (* 2.0 n))})))

(defn w3
  "A ring of virtual threads; see tasklet.bench.tasklet-peer/w3."
  [{:keys [ring rounds]}]
  (let [ring (long ring)
        hops (* ring (long rounds))
        done (CountDownLatch. 1)
        relay (fn [^Mailbox in ^Mailbox nxt]
                (fn []
                  (loop []
                    (let [k (.take in)]
                      (if (identical? k :stop)
                        (.put nxt :stop)
                        (do (if (zero? (long k))
                              (.countDown done)
                              (.put nxt (dec (long k))))
                            (recur)))))))
        t0 (u/now)
        boxes (let [a (object-array ring)] (dotimes [i ring] (aset a i (mailbox))) a)]
    (dotimes [i ring]
      (start (relay (aget boxes i) (aget boxes (mod (inc i) ring)))))
    (let [t1 (u/now)
          head ^Mailbox (aget boxes 0)]
      (.put head hops)
      (u/await-latch! done "W3 ring")
      (let [t2 (u/now)]
        (.put head :stop)
        {:create-ms (u/ms (- t1 t0))
         :hops-per-s (u/per-second hops (- t2 t1))}))))

(defn w4
  "senders virtual threads send [:msg i] to one receiver's mailbox."
  [{:keys [senders per-sender]}]
  (let [per (long per-sender)
        total (* (long senders) per)
        r (mailbox)
        done (promise)]
    (start (u/guarded done
                      (fn []
                        (loop [c 0]
                          (if (< c total)
                            (let [m (.take r)]
                              (when-not (and (vector? m) (identical? :msg (nth m 0)))
                                (throw (ex-info "W4: unexpected message" {:msg m})))
                              (recur (inc c)))
                            (deliver done (u/now)))))))
    (let [t0 (u/now)]
      (dotimes [_ senders] (start (fn [] (dotimes [i per] (.put r [:msg i])))))
      {:msgs-per-s (u/per-second total (- (long (u/await! done "W4 fan-in")) t0))})))

(defn w7
  "Call-style round trips from a thread whose queue holds `backlog`
  non-matching messages; the reply is found by a naive scan of the queue
  (iterator + remove), as a hand-written selective receive would. No marker."
  [{:keys [backlog naive-round-trips]}]
  (let [n (long naive-round-trips)
        me (mailbox)
        srv (mailbox)
        done (promise)]
    (start (fn [] (loop []
                    (let [m (.take srv)]
                      (when (vector? m)
                        (let [[_ ^Mailbox from tag] m] (.put from [tag :ok]))
                        (recur))))))
    (start (u/guarded done
                      (fn []
                        (dotimes [i (long backlog)] (.put me [:noise i]))
                        (let [t0 (u/now)]
                          (dotimes [_ n]
                            (let [tag (Object.)]
                              (.put srv [:call me tag])
                              (.takeMatching me (fn [m] (and (vector? m) (identical? tag (nth m 0 nil)))))))
                          (deliver done {:naive-us (/ (- (u/now) t0) 1e3 n)
                                         :backlog-left (.size me)})
                          (.put srv :stop)))))
    (assoc (u/await! done "W7 selective receive") :marked-us nil)))
