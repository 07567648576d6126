;; Loaded into tasklet.bench.savina-pekko when Pekko is on the classpath (that
;; namespace's doc says why this file has no ns form of its own).
(in-ns 'tasklet.bench.savina-pekko)

(set! *warn-on-reflection* true)

(import '[org.apache.pekko.actor AbstractActor AbstractActor$Receive ActorRef ActorRefFactory ActorSystem Props]
        '[org.apache.pekko.japi Creator]
        '[org.apache.pekko.japi.pf FI$UnitApply ReceiveBuilder]
        '[com.typesafe.config ConfigFactory]
        '[java.util SplittableRandom]
        '[java.util.concurrent CountDownLatch]
        '[java.util.concurrent.atomic LongAdder])

(defonce ^{:private true :doc "This JVM's ActorSystem, made on first use."} system
  (delay
    (let [p (parallelism)]
      (ActorSystem/create
        "bench"
        (.withFallback
          (ConfigFactory/parseString
            (str "pekko.log-dead-letters = off\n"
                 "pekko.actor.default-dispatcher.fork-join-executor {"
                 " parallelism-min = " p ", parallelism-max = " p ", parallelism-factor = 1.0 }\n"))
          (ConfigFactory/load))))))

(defn- actor-props
  "Props of a classic actor whose messages go to (handler actor msg), a fn of
  the AbstractActor (for getSelf, getSender, getContext) and the message."
  ^Props [handler-fn]
  (Props/create AbstractActor
                (reify Creator
                  (create [_]
                    (let [handler (handler-fn)]
                      (proxy [AbstractActor] []
                        (createReceive []
                          (let [^AbstractActor me this]
                            (-> (ReceiveBuilder/create)
                                (.matchAny (reify FI$UnitApply (apply [_ m] (handler me m))))
                                (.build))))))))))

(defn- stop-self! [^AbstractActor a]
  (.stop ^ActorRefFactory (.getContext a) (.getSelf a)))

;; ---------------------------------------------------------------------------
;; Big

(defn- big-handler [idx pings ^CountDownLatch done ^LongAdder answered-sum ^CountDownLatch stopped]
  (fn []
    (let [idx (long idx) pings (long pings)
          rnd (SplittableRandom. (+ 42 idx))
          state (long-array 2)          ; [sent answered]
          peers (object-array 1)
          ping! (fn [self]
                  (let [^objects ps (aget peers 0)
                        j (.nextInt rnd (dec (alength ps)))
                        j (if (>= j idx) (inc j) j)]
                    (.tell ^ActorRef (aget ps j) :ping self)
                    (aset state 0 (inc (aget state 0)))))]
      (fn [^AbstractActor a m]
        (let [self (.getSelf a)]
          (cond
            (identical? m :ping) (do (.tell (.getSender a) :pong self)
                                     (aset state 1 (inc (aget state 1))))
            (identical? m :pong) (if (< (aget state 0) pings) (ping! self) (.countDown done))
            (identical? m :stop) (do (.add answered-sum (aget state 1))
                                     (.countDown stopped)
                                     (stop-self! a))
            :else (do (aset peers 0 (nth m 1)) (ping! self))))))))

(defn- big* [{:keys [big-actors pings]}]
  (let [n (long big-actors)
        ^ActorSystem sys @system
        done (CountDownLatch. n)
        stopped (CountDownLatch. n)
        answered (LongAdder.)
        refs (object-array n)
        t0 (u/now)]
    (dotimes [i n] (aset refs i (.actorOf sys (actor-props (big-handler i pings done answered stopped)))))
    (dotimes [i n] (.tell ^ActorRef (aget refs i) [:peers refs] nil))
    (u/await-latch! done "Big")
    (let [dt (- (u/now) t0)]
      (dotimes [i n] (.tell ^ActorRef (aget refs i) :stop nil))
      (u/await-latch! stopped "Big stop")
      (u/check! "Big pings answered" (* n (long pings)) (.sum answered))
      {:msgs-per-s (u/per-second (* 2 n (long pings)) dt)})))

;; ---------------------------------------------------------------------------
;; Chameneos

(defn- chameneo-handler [^ActorRef mall colour]
  (fn []
    (let [state (object-array [colour 0])]    ; [colour meets]
      (fn [^AbstractActor a m]
        (let [self (.getSelf a)]
          (if (identical? m :stop)
            (do (.tell mall [:meets (aget state 1)] self) (stop-self! a))
            (let [[tag c] m]
              (case tag
                :start (.tell mall [:meet (aget state 0)] self)
                :meet-with (let [c' (u/complement-colour (aget state 0) c)]
                             (.tell (.getSender a) [:change c'] self)
                             (aset state 0 c')
                             (aset state 1 (Long/valueOf (inc (long (aget state 1)))))
                             (.tell mall [:meet c'] self))
                :change (do (aset state 0 c)
                            (aset state 1 (Long/valueOf (inc (long (aget state 1)))))
                            (.tell mall [:meet c] self))))))))))

(defn- mall-handler [n meetings result]
  (fn []
    (let [n (long n) meetings (long meetings)
          waiting (object-array 2)       ; [ActorRef colour] of the chameneo waiting, or nil
          counts (long-array 4)]         ; [held reported total t1]
      (fn [^AbstractActor a m]
        (let [[tag c] m]
          (if (identical? tag :meets)
            (do (aset counts 1 (inc (aget counts 1)))
                (aset counts 2 (+ (aget counts 2) (long c)))
                (when (== n (aget counts 1))
                  (deliver result (vec counts))
                  (stop-self! a)))
            (let [from (.getSender a)]
              (cond
                (== meetings (aget counts 0)) (.tell from :stop (.getSelf a))
                (nil? (aget waiting 0)) (do (aset waiting 0 from) (aset waiting 1 c))
                :else (do (.tell ^ActorRef (aget waiting 0) [:meet-with c] from)
                          (aset waiting 0 nil)
                          (aset counts 0 (inc (aget counts 0)))
                          (when (== meetings (aget counts 0)) (aset counts 3 (u/now))))))))))))

(defn- chameneos* [{:keys [chameneos meetings]}]
  (let [n (long chameneos)
        meetings (long meetings)
        ^ActorSystem sys @system
        result (promise)
        colours [:blue :red :yellow]
        t0 (u/now)
        mall (.actorOf sys (actor-props (mall-handler n meetings result)))]
    (dotimes [i n]
      (.tell (.actorOf sys (actor-props (chameneo-handler mall (colours (mod i 3))))) [:start nil] nil))
    (let [[held _ total t1] (u/await! result "Chameneos")]
      (u/check! "Chameneos meetings held" meetings held)
      (u/check! "Chameneos meetings counted by the chameneos" (* 2 meetings) total)
      {:meetings-per-s (u/per-second meetings (- (long t1) t0))})))

;; ---------------------------------------------------------------------------
;; Fork-Join create

(defn- fjc* [{:keys [actors]}]
  (let [n (long actors)
        ^ActorSystem sys @system
        sum (LongAdder.)
        latch (CountDownLatch. n)
        props (actor-props (fn []
                             (fn [^AbstractActor a i]
                               (let [s (Math/sin (+ 37.2 (* 1e-12 (double i))))
                                     r (* s s)]
                                 (when (> r 1.5) (throw (ex-info "sin^2 > 1" {:r r})))
                                 (.add sum (long i))
                                 (.countDown latch)
                                 (stop-self! a)))))
        t0 (u/now)]
    (dotimes [i n] (.tell (.actorOf sys props) i nil))
    (u/await-latch! latch "Fork-Join create")
    (let [dt (- (u/now) t0)]
      (u/check! "Fork-Join create checksum" (quot (* n (dec n)) 2) (.sum sum))
      {:actors-per-s (u/per-second n dt)})))
