(ns tasklet.core.bindings-test
  "doc/reference.md §1, dynamic bindings belong to the tasklet: spawn conveys the
  caller's bindings as future does; a binding made inside a tasklet holds
  across receive, whichever worker resumes it, and no other tasklet sees it."
  (:require [clojure.test :refer [deftest is testing use-fixtures]]
            [tasklet.core :as t :refer [spawn spawn-monitor ! receive self schedule]]
            [tasklet.core.support :as s :refer [recv in-thread]]))

(set! *warn-on-reflection* true)

(use-fixtures :each s/quiet-crashes)

(def ^:dynamic *x* :root)

;; spawn conveys the caller's bindings, like future: from a plain thread and from a tasklet.
(deftest spawn-conveys-bindings
  (let [me (self)
        tg (s/tag)]
    (binding [*x* :from-thread]
      (spawn (fn [] (! me [tg *x* @(future *x*)]))))
    (is (= [:from-thread :from-thread] (recv [tg x fx] [x fx])))
    (is (= :from-thread (binding [*x* :from-thread] (schedule (fn [] *x*)))))
    (is (= :from-tasklet (schedule (fn [] (binding [*x* :from-tasklet] (schedule (fn [] *x*)))))))
    (testing "outside the binding, a spawned tasklet sees the root value"
      (is (= :root (schedule (fn [] *x*)))))
    (testing "a plain thread's bindings too"
      (is (= :in-thread (in-thread #(binding [*x* :in-thread] (schedule (fn [] *x*)))))))))

;; ---------------------------------------------------------------------------
;; ---------------------------------------------------------------------------
;; The ring: 60 tasklets pass 8 tokens round a ring, 200,000 hops a run. Each
;; hop is a receive that suspends the tasklet; meanwhile other tasklets run on
;; the same worker threads (on the continuation strand a tasklet resumes on its
;; home worker, shared with the others homed there; on the virtual strand on
;; whatever carrier). Even members bind *x* to their id inside the tasklet, odd
;; members bind nothing; after every receive each checks *x* and (self).
;; Against kernel 38eeb9e (which resumed tasklets on any worker) this failed
;; within the first million hops, once C2 had compiled the receive path.

(defn- ring-member [owner tg id]
  (let [me (self)
        check (fn []
                (loop [next nil hops 0 bad-x 0 bad-self 0 threads #{}]
                  (receive
                    [:next p] (recur p hops bad-x bad-self threads)
                    [:tok h] (let [bad-x (if (= *x* (if (even? id) id :root)) bad-x (inc bad-x))
                                   bad-self (if (= (self) me) bad-self (inc bad-self))
                                   threads (conj threads (.getName (Thread/currentThread)))]
                               (cond
                                 (zero? h) (! owner [tg :token-done])
                                 ;; now and then through the plain test thread, so some
                                 ;; wake-ups come from outside the scheduler's threads
                                 (zero? (mod h 1000)) (! owner [tg :relay next [:tok (dec h)]])
                                 :else (! next [:tok (dec h)]))
                               (recur next (inc hops) bad-x bad-self threads))
                    :stop {:id id :hops hops :bad-x bad-x :bad-self bad-self
                           :threads threads})))
        report (if (even? id)
                 (binding [*x* id] (check))
                 (check))]
    ;; after the binding form, the root value again
    (! owner [tg :report (assoc report :after-x *x*)])))

(defn- run-ring
  "Runs the ring; returns the members' reports, or {:id id :crashed reason}
  for a member that died."
  [n tokens hops]
  (let [me (self)
        tg (s/tag)
        ms (vec (for [id (range n)] (spawn-monitor ring-member me tg id)))
        ps (mapv first ms)]
    (doseq [i (range n)] (! (ps i) [:next (ps (mod (inc i) n))]))
    (dotimes [t tokens] (! (ps (* t (quot n tokens))) [:tok hops]))
    (loop [done 0]
      (when (< done tokens)
        (recv [tg :relay p msg] (do (! p msg) (recur done))
              [tg :token-done] (recur (inc done)))))
    (doseq [p ps] (! p :stop))
    (vec (for [[id [p ref]] (map-indexed vector ms)]
           (let [r (recv [tg :report (r :guard #(= id (:id %)))] r
                         [:DOWN ref :process _ (reason :guard #(not= :normal %))]
                         {:id id :crashed (if (instance? Throwable reason)
                                            (str (.getName (class reason)) ": " (ex-message reason))
                                            reason)})]
             (t/demonitor ref {:flush true})
             r)))))

(defn- problem? [r]
  (or (:crashed r) (pos? (:bad-x r)) (pos? (:bad-self r)) (not= :root (:after-x r))))

(defn- ring-until-problem
  "Runs the ring up to 8 times (1.6 million hops: long enough for the JIT to
  compile the receive path, where binding bugs have shown up only in compiled
  code) and stops at the first run with a problem. Returns the reports of the
  last run."
  []
  (loop [i 1]
    (let [reports (run-ring 60 8 25000)]
      (if (or (some problem? reports) (>= i 8))
        reports
        (recur (inc i))))))

(defn- shared-worker?
  "True when two tasklets that bind *x* to different values ran on one same
  worker thread, so a leaked binding frame would have been seen."
  [reports]
  (let [by-thread (reduce (fn [m {:keys [id threads]}]
                            (reduce #(update %1 %2 (fnil conj #{}) id) m threads))
                          {} (filter #(even? (:id %)) (remove :crashed reports)))]
    (boolean (some #(> (count %) 1) (vals by-thread)))))

(def ^:private ^:dynamic *ring*
  "The ring's outcome, computed once per test run by the first test that needs it."
  nil)

(use-fixtures :once (fn [f] (binding [*ring* (delay (s/quiet-crashes ring-until-problem))] (f))))

(defn- ring [] @*ring*)

;; A binding made inside a tasklet holds after every receive, while other tasklets with other bindings run on the same workers in between.
(deftest binding-holds-across-receive-on-any-worker
  (let [reports (ring)
        crashed (filter :crashed reports)
        binders (filter #(even? (:id %)) (remove :crashed reports))]
    (is (= [] crashed) "no member crashed (e.g. on unbalanced binding frames)")
    (when (empty? crashed)
      (is (= (* 8 25001) (reduce + (map :hops reports))) "every hop was made"))
    (is (= [] (remove #(zero? (:bad-x %)) binders))
        "each binder sees its own binding after each receive")
    (is (every? #(= :root (:after-x %)) (remove :crashed reports)) "the binding form ends cleanly")
    (when (= :continuation (:strand (t/runtime-info)))
      (is (shared-worker? reports) "binders interleaved on one worker thread"))))

;; A binding made inside one tasklet is never seen by another tasklet, even one that runs on the same workers in between.
(deftest binding-never-seen-by-another-tasklet
  (let [others (filter #(odd? (:id %)) (ring))]
    (is (= [] (filter :crashed others)))
    (is (= [] (remove #(zero? (:bad-x %)) (remove :crashed others)))
        "tasklets that bind nothing always see the root value")))

;; (self) stays the tasklet's own pid after receives that resume it on other workers.
(deftest self-is-stable-across-receive
  (let [reports (remove :crashed (ring))]
    (is (seq reports))
    (is (= [] (remove #(zero? (:bad-self %)) reports)))))

;; A binding made inside a tasklet ends with its binding form, even across a receive inside it.
(deftest binding-unwinds-after-receive
  (is (= [:inner :root]
         (schedule (fn []
                     (let [inner (binding [*x* :inner]
                                   (! (self) :wake)
                                   (receive :wake (do (receive (after 1 nil)) *x*)))]
                       [inner *x*]))))))

;; ---------------------------------------------------------------------------
;; Tasklets that share one frame (a tasklet outside any `binding` shares its
;; own frame with the tasklets it spawns) switch on a worker without
;; reinstalling it: the worker remembers the frame its thread holds between
;; slices (Tasklet.installContext). What that must never do: let one tasklet
;; see a binding made by a neighbour, or left behind by one that ended.

(defn- thread-name [] (.getName (Thread/currentThread)))

;; A child that binds *x* and ping-pongs with its parent from inside the
;; binding; the parent, at its base frame, sees the root value after every
;; reply and the child its own binding. Both on one worker (a spawn stays
;; with its spawner), so every hop switches frames on that thread.
(deftest frame-sharing-neighbours-keep-their-own-bindings
  (let [[seen same-thread]
        (schedule
          (fn []
            (let [me (self)
                  child (spawn (fn []
                                 (binding [*x* :child]
                                   (loop []
                                     (receive
                                       [:ping from] (do (! from [:pong *x* (thread-name)]) (recur))
                                       :stop nil)))))]
              (loop [i 0 seen #{} same true]
                (if (< i 2000)
                  (do (! child [:ping me])
                      (recv [:pong cx th]
                            (recur (inc i) (conj seen [cx *x*]) (and same (= th (thread-name))))))
                  (do (! child :stop) [seen same]))))))]
    (is (= #{[:child :root]} seen) "each reply: the child's binding there, the root value here")
    (when (= :continuation (:strand (t/runtime-info)))
      (is same-thread "parent and child ran on one worker thread"))))

;; A tasklet that ends with a binding pushed and never popped leaves it on
;; its worker's thread; the next tasklet resumed there still sees its own.
(deftest a-binding-left-by-an-ended-tasklet-is-not-seen
  (let [[before after same-thread]
        (schedule
          (fn []
            (let [me (self)
                  before *x*]
              (spawn (fn []
                       (push-thread-bindings {#'*x* :leaked})
                       (! me [:leaker-ending (thread-name)])))
              (recv [:leaker-ending th] [before *x* (= th (thread-name))]))))]
    (is (= [:root :root] [before after]))
    (when (= :continuation (:strand (t/runtime-info)))
      (is same-thread "the leaker ran on the receiver's worker thread"))))

;; A tasklet outside any binding shares its frame with the tasklets it
;; spawns; a binding made by either is still its own.
(deftest a-shared-base-frame-is-not-a-shared-binding
  (is (= [:root :in-child :root]
         (schedule
           (fn []
             (let [me (self)
                   child (spawn (fn []
                                  (let [a *x*]
                                    (binding [*x* :in-child]
                                      (receive :go (! me [:child a *x*]))))))]
               (! child :go)
               (recv [:child a b] [a b *x*])))))))
