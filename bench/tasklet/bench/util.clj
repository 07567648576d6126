(ns tasklet.bench.util
  "What every peer's workloads share: the fixed parameters scaled down for a
  quick run, clocks, heap measurement after GC, waiting for a result with a
  deadline, and medians. No peer-specific code lives here."
  (:import [java.lang.management ManagementFactory]
           [java.util.concurrent TimeUnit]
           [java.util.concurrent.locks LockSupport]))

(set! *warn-on-reflection* true)

(def full-params
  "The issue's fixed parameters (issue 5). W7 and W8 round-trip counts are
  ours: the issue fixes only W7's backlog."
  {:W1 {:n 1000000}
   :W2 {:round-trips 1000000}
   :W3 {:ring 10000 :rounds 100}
   :W4 {:senders 4 :per-sender 1000000}
   :W5 {:round-trips 100000}
   :W6 {:messages 1000000}
   :W7 {:backlog 10000 :round-trips 20000 :naive-round-trips 2000}
   :W8 {:calls 200000}
   ;; Savina (Imam and Sarkar 2014), the issue's parameters
   :BIG {:big-actors 120 :pings 20000}
   :CHAMENEOS {:chameneos 100 :meetings 1000000}
   :FJC {:actors 500000}})

(def ^:private unscaled
  "Parameters that define a workload's shape and stay fixed at any scale."
  #{:senders :rounds :backlog :big-actors :chameneos})

(defn scaled
  "The parameters of workload w at scale s (1.0 = the issue's), each count at
  least 2 so that every workload still does something at a tiny scale."
  [w s]
  (into {}
        (map (fn [[k v]]
               [k (if (unscaled k) v (max 2 (long (Math/round (* (double s) (double v))))))]))
        (full-params w)))

(defn now
  "The monotonic clock in nanoseconds."
  ^long []
  (System/nanoTime))

(defn ms
  "Nanoseconds as milliseconds (double)."
  ^double [^long nanos]
  (/ nanos 1e6))

(defn per-second
  "count events in nanos as events per second (double)."
  ^double [count ^long nanos]
  (/ (* (double count) 1e9) (max 1 nanos)))

(defn heap-used
  "Heap bytes in use after three full GCs (MemoryMXBean), as the demo measures."
  ^long []
  (dotimes [_ 3] (System/gc))
  (.getUsed (.getHeapMemoryUsage (ManagementFactory/getMemoryMXBean))))

(def ^:dynamic *deadline-ms*
  "How long a workload may take before it is declared stuck."
  300000)

(defn await!
  "Deref promise p, throwing ex-info when it is not delivered within
  *deadline-ms* (a lost wake-up must fail the run, not hang it). A Throwable
  delivered (see `guarded`) is rethrown."
  [p what]
  (let [v (deref p *deadline-ms* ::timeout)]
    (when (identical? v ::timeout)
      (throw (ex-info (str what ": no result within " *deadline-ms* " ms") {:what what})))
    (when (instance? Throwable v)
      (throw (ex-info (str what ": failed: " (.getMessage ^Throwable v)) {:what what} v)))
    v))

(defn guarded
  "f wrapped so that a Throwable it throws is delivered to promise p (where
  `await!` rethrows it at once) instead of leaving p pending until the deadline."
  [p f]
  (fn []
    (try (f)
         (catch Throwable e (deliver p e) (throw e)))))

(defn await-latch!
  "Wait for latch to reach zero, throwing ex-info after *deadline-ms*."
  [^java.util.concurrent.CountDownLatch latch what]
  (when-not (.await latch *deadline-ms* TimeUnit/MILLISECONDS)
    (throw (ex-info (str what ": " (.getCount latch) " still pending after " *deadline-ms* " ms")
                    {:what what :pending (.getCount latch)}))))

(defn poll-until!
  "Check (pred) every 20 µs until it holds, throwing after *deadline-ms*. Parks
  between checks rather than spinning, so that the measuring thread does not
  take one of the two cores from the peer it measures."
  [pred what]
  (let [deadline (+ (now) (* 1000000 (long *deadline-ms*)))]
    (loop []
      (when-not (pred)
        (when (pos? (- (now) deadline))
          (throw (ex-info (str what ": condition not reached within " *deadline-ms* " ms") {:what what})))
        (LockSupport/parkNanos 20000)
        (recur)))))

(defn check!
  "Throw ex-info unless (= expected actual): a workload verifies its counts
  and checksums, so that a peer that lost or duplicated messages reports an
  error instead of a fast figure."
  [what expected actual]
  (when-not (= expected actual)
    (throw (ex-info (str what ": expected " (pr-str expected) ", got " (pr-str actual))
                    {:what what :expected expected :actual actual}))))

(defn median
  "The median of numbers xs (the middle one of an odd count, the mean of the
  two middle ones of an even count)."
  [xs]
  (let [v (vec (sort xs))
        n (count v)]
    (when (pos? n)
      (if (odd? n)
        (v (quot n 2))
        (/ (+ (double (v (dec (quot n 2)))) (double (v (quot n 2)))) 2.0)))))

(defn complement-colour
  "Savina Chameneos' colour rule, the same for every peer: two chameneos of
  one colour keep it; two of different colours both take the third."
  [a b]
  (if (identical? a b) a
      (case a
        :blue (if (identical? b :red) :yellow :red)
        :red (if (identical? b :blue) :yellow :blue)
        :yellow (if (identical? b :blue) :red :blue))))
