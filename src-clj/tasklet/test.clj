(ns tasklet.test
  "Deterministic scheduling for tests: run a small system of tasklets on one
  thread, with every scheduling decision a recorded choice, so that a
  property test can explore interleavings and shrink a failing one to the
  fewest choices (QuickCheck PULSE's idea, for test.check).

    (with-deterministic-scheduler {:seed 42}
      (let [me (self)]
        (spawn (fn [] (! me :a)))
        (spawn (fn [] (! me :b)))
        [(receive m m) (receive m m)]))   ; same seed, same answer, every time

    (check-interleavings {:num-tests 100} racy-system #(= 2 %))
    ;; => {:pass? false ... :schedule {:preemptions [[3 1]]} ...}, and a
    ;;    printed report: the test.check seed and the shrunk trace

  How a run works. A fresh node (continuation strand) gets a
  `tasklet.kernel.DeterministicScheduler` and a virtual clock
  (`tasklet.kernel.ManualTime`); the body runs as a tasklet on it, and the
  calling thread runs slices of the runnable tasklets one at a time until the
  body has ended and nothing is runnable. Switch points, where another
  tasklet may be chosen to run, are every send, every receive, `whereis`,
  `register`, `unregister`, `spawn`, `link`, `unlink`, `monitor`,
  `demonitor`, `exit` to another pid and `alive?`. When nothing is runnable and a timer
  is pending (a `receive` with `after`), virtual time jumps to it: timeouts
  fire without real waiting, and `tasklet.core/monotonic-ms` (the node's
  clock, which the supervisor's restart-intensity window reads) follows it.
  Each run's node has a fresh name, det-N; nothing in a run depends on it
  (an ending tasklet signals its links and monitors in the order they were
  made, not in the hash order of pids).

  Choices. The runnable tasklets are listed with the one that just reached a
  switch point first, then the others oldest first. Where more than one can
  run, the index taken is the next of `:choices` (modulo the list size), else
  drawn from a java.util.SplittableRandom seeded with `:seed`, else 0. So
  choice 0 means \"carry on\" (no preemption), and a schedule of all zeros
  runs each tasklet until it waits. A generated `schedule` is a vector of
  choices; test.check shrinks it toward fewer and smaller choices, i.e. the
  fewest preemptions that still break the property.

  Delivery order. A send is a synchronous put into the receiver's mailbox in
  this mode (the kernel's mailboxes are, on one thread, exactly ordered), so
  the order in which concurrent sends arrive is the order in which their
  senders were chosen to run: the scheduler's choices cover the
  nondeterminism of delivery order too. Per sender-receiver pair FIFO holds,
  as always.

  What breaks determinism (the run is still correct, just not repeatable):
  real threads (a `future`, a plain thread sending to these tasklets, I/O
  callbacks), `Thread/sleep` (it blocks the one thread: everything waits),
  blocking I/O, reading `System/nanoTime` or `System/currentTimeMillis`
  directly (read `tasklet.core/monotonic-ms` instead), unordered iteration
  over identity-hashed things, and tasklets on other nodes. A
  tasklet that blocks the thread waiting for another tasklet (a pinned
  continuation) hangs the run: use `receive`, never locks, between tasklets.

  Call these from a plain thread (a test, the REPL, a future), not from
  inside a tasklet; runs do not nest.

  Requires the continuation strand (the JVM option --add-exports
  java.base/jdk.internal.vm=ALL-UNNAMED, on in this project's :jvm-opts);
  without it these functions throw ex-info {:tasklet/error :unsupported}.
  Requires test.check on the classpath (a test dependency)."
  (:require [clojure.string :as str]
            [clojure.test.check :as tc]
            [clojure.test.check.generators :as gen]
            [clojure.test.check.properties :as prop]
            [clojure.walk :as walk])
  (:import [clojure.lang IFn Var]
           [tasklet.kernel DeterministicScheduler DeterministicScheduler$Step
            ManualTime Node NodeOptions NodeTable Pid Ref Signals Strand Tasklet TaskletExit]))

(set! *warn-on-reflection* true)

(def ^:private node-serial (atom 0))

(defn available?
  "True when this JVM can run the deterministic scheduler (the continuation
  strand's --add-exports is in effect)."
  []
  (Strand/continuationsAvailable))

(defn- check-available []
  (when-not (available?)
    (throw (ex-info (str "tasklet.test's deterministic scheduler needs the continuation strand: "
                         "run the JVM with --add-exports java.base/jdk.internal.vm=ALL-UNNAMED")
                    {:tasklet/error :unsupported})))
  (when-let [^Tasklet t (Node/currentTasklet)]
    (when (and (.isAlive t) (not= "thread" (some-> (Signals/info t) (.get "strand"))))
      (throw (ex-info (str "run deterministic schedules from a plain thread (a test, the REPL, a future), "
                           "not from inside a tasklet: its slices must run on the calling thread, "
                           "and deterministic runs do not nest")
                      {:tasklet/error :badarg})))))

(defn- make-node ^Node [^DeterministicScheduler sched ^ManualTime time]
  (Node. (-> (NodeOptions/builder (str "det-" (swap! node-serial inc)))
             (.strand "continuation")
             (.scheduler sched)
             (.timers time)
             (.reductionBudget 1)
             (.build))))

;; ---------------------------------------------------------------------------
;; Traces

(defn- short-pid [^Pid p] (symbol (str "<" (.-serial p) ">")))

(defn- shorten
  "x with pids as <serial> and refs as #ref<id> symbols, for compact traces."
  [x]
  (walk/postwalk (fn [v] (cond (instance? Pid v) (short-pid v)
                               (instance? Ref v) (symbol (str "#ref<" (.-id ^Ref v) ">"))
                               :else v))
                 x))

(defn- event->data [^objects e]
  (let [what (keyword (aget e 0)) a (aget e 1) b (aget e 2)]
    (case what
      (:send :whereis :register :monitor :demonitor :alive? :signal) [what a b]
      [what a])))

(defn- step->data [^DeterministicScheduler$Step s]
  (if (.-ran s)
    {:step (.-index s) :ran (.-ran s) :runnable (vec (.-runnable s))
     :choice (.-choice s) :by (keyword (.-by s))
     :events (mapv event->data (.-events s))}
    {:step (.-index s) :advance-ms (/ (.-advancedNanos s) 1e6)}))

(defn- fmt-event [[what a b]]
  (case what
    :send (str "sent " (pr-str (shorten a)) " to " (shorten b))
    :receive (str "took " (pr-str (shorten a)))
    :spawn (str "spawned " (shorten a))
    :link (str "linked " (shorten a))
    :exit (str "exited " (pr-str (shorten a)))
    :whereis (str "whereis " (pr-str a) " => " (pr-str (shorten b)))
    :register (str "registered " (pr-str a) " as " (shorten b))
    :unregister (str "unregistered " (pr-str a))
    :unlink (str "unlinked " (shorten a))
    :monitor (str "monitored " (pr-str (shorten a)) " as " (shorten b))
    :demonitor (str "demonitored " (shorten a) (when-not b " (already fired)"))
    :alive? (str "alive? " (shorten a) " => " b)
    :signal (str "sent exit signal " (pr-str (shorten b)) " to " (shorten a))
    (pr-str (shorten [what a b]))))

(defn format-trace
  "A trace (as in the :trace of `run-schedule`'s result) as lines of text,
  one per step: which tasklet ran, out of which runnable ones, by which
  choice (a * marks a preemption: a choice other than 0), and what it sent
  and took. Steps that did nothing visible are folded. At most `limit`
  lines (default 200)."
  ([trace] (format-trace trace 200))
  ([trace limit]
   (let [lines (keep (fn [{:keys [step ran runnable choice by events advance-ms]}]
                       (cond
                         advance-ms (format "%5d  -- virtual time +%s ms" step advance-ms)
                         (or (seq events) (pos? (long choice)))
                         (format "%5d %s %-6s%s %s" step (if (pos? (long choice)) "*" " ")
                                 (shorten ran)
                                 (if (> (count runnable) 1)
                                   (str " of " (str/join " " (map shorten runnable))
                                        " (" (name by) " " choice ")")
                                   "")
                                 (str/join "; " (map fmt-event events)))))
                     trace)
         n (count lines)]
     (str/join "\n" (concat (take limit lines)
                            (when (> n limit) [(str "... " (- n limit) " more steps")]))))))

;; ---------------------------------------------------------------------------
;; Running

(defn preemptions->choices
  "The dense choice vector of a sparse schedule: [[decision choice] ...] means
  take `choice` at the decision-th point where more than one tasklet could
  run (counting from 0), and 0 (carry on) everywhere else. When a decision is
  named twice the later entry wins."
  [preemptions]
  (if (empty? preemptions)
    []
    (let [n (inc (long (apply max (map first preemptions))))]
      (reduce (fn [v [k c]] (assoc v k c)) (vec (repeat n 0)) preemptions))))

(defn run-schedule
  "Run (f) as a tasklet on a fresh deterministic node (see the ns docstring)
  and return what happened, never throwing for the body's sake:

    {:outcome  :done | :deadlock | :step-limit
     :result   f's return value (when it returned)
     :error    what f threw, or an ex-info for a deadlock or the step limit
     :choices  the choices made where more than one tasklet was runnable
     :steps    slices run
     :trace    the steps (with :record? true): {:step :ran :runnable :choice
               :by :events [[:send msg to] [:receive msg] [:spawn pid]
               [:link pid] [:exit reason]]} or {:step :advance-ms}}

  Options: :seed (long), :choices (vector of ints, taken first), or
  :preemptions (sparse, see `preemptions->choices`; what `schedule`
  generates), :max-steps (default 100000), :record? (default true). The caller's dynamic
  bindings are conveyed to f. Throws ex-info {:tasklet/error :unsupported}
  without the continuation strand."
  [{:keys [seed choices preemptions max-steps record?] :or {max-steps 100000 record? true}} f]
  (check-available)
  (let [sched (DeterministicScheduler. (some-> seed long) (some-> (seq (or choices (preemptions->choices preemptions))) int-array)
                                       (boolean record?))
        time (ManualTime.)
        node (make-node sched time)
        result (volatile! nil)
        ^IFn body (fn [] (vreset! result (try [:ok (f)]
                                              (catch TaskletExit e [:exit (.-reason e)])
                                              (catch Throwable e [:error e]))))]
    (try
      (let [pid (.spawn node body f (Var/cloneThreadBindingFrame) nil nil nil)
            main (NodeTable/resolve pid)
            status (.drive sched main time (long max-steps))
            trace (when record? (mapv step->data (.trace sched)))
            base {:choices (vec (.choicesMade sched))
                  :steps (.steps (.deterministic (.stats sched)))
                  :trace trace
                  :virtual-ms (/ (.nanoTime time) 1e6)}
            waiting (fn [] (vec (for [p (.processes node)]
                                  [p (some-> (NodeTable/resolve p) Signals/info (.get "status") keyword)])))]
        (condp = status
          DeterministicScheduler/DONE
          (let [[k v] @result]
            (case k
              :ok (assoc base :outcome :done :result v)
              :exit (assoc base :outcome :done
                           :error (ex-info (str "the body tasklet exited with reason " (pr-str v))
                                           {:tasklet/error :exit :reason v}))
              (assoc base :outcome :done :error v)))
          DeterministicScheduler/DEADLOCK
          (let [w (waiting)]
            (assoc base :outcome :deadlock
                   :error (ex-info (str "deadlock: the body has not ended, nothing can run and no timer is pending; "
                                        "waiting: " (pr-str (shorten w))
                                        "\nlast steps:\n" (format-trace (take-last 40 trace)))
                                   {:tasklet/error :deadlock :waiting w :trace trace})))
          (assoc base :outcome :step-limit
                 :error (ex-info (str "livelock or runaway: more than " max-steps " steps (option :max-steps)"
                                      "\nlast steps:\n" (format-trace (take-last 40 trace)))
                                 {:tasklet/error :livelock :max-steps max-steps :trace trace}))))
      (finally (.shutdown node)))))

(defn run-deterministic
  "Run (f) under the deterministic scheduler (options as `run-schedule`:
  :seed, :choices, :max-steps) and return its value; rethrow what it threw;
  throw ex-info {:tasklet/error :deadlock} or {:tasklet/error :livelock}
  (with the :trace) when the run could not finish."
  [opts f]
  (let [{:keys [result error]} (run-schedule (merge {:record? true} opts) f)]
    (if error (throw error) result)))

(defmacro with-deterministic-scheduler
  "Run body as a tasklet on a fresh single-thread deterministic node and
  return its value; see `run-deterministic` for opts ({:seed n, :choices [..],
  :max-steps n}) and the ns docstring for what is deterministic. Every
  tasklet the body spawns runs on that node, on the calling thread; `after`
  timeouts use virtual time. Same options, same run, every time."
  [opts & body]
  `(run-deterministic ~opts (fn [] ~@body)))

;; ---------------------------------------------------------------------------
;; Property tests over schedules

(defn schedule
  "A test.check generator of schedules: {:choices [k ...]}, a vector of
  scheduling choices (natural numbers, used modulo the number of runnable
  tasklets at each decision; beyond the vector every choice is 0, \"carry
  on\"). Grows with test.check's size up to :max-choices (default 64);
  shrinks toward fewer and smaller choices. `check-interleavings` shrinks
  further, see there."
  ([] (schedule {}))
  ([{:keys [max-choices] :or {max-choices 64}}]
   (gen/sized (fn [size]
                (gen/fmap (fn [v] {:choices v})
                          (gen/vector (gen/choose 0 7) 0 (min (long max-choices) (long size))))))))

(defn- fails? [sched system-fn property-fn max-steps]
  (let [{:keys [result error]} (run-schedule (assoc sched :max-steps max-steps :record? false) system-fn)]
    (or (some? error) (not (try (property-fn result) (catch Throwable _ false))))))

(defn- sparse
  "The preemptions of a dense choice vector (as a run reports the choices it made)."
  [choices]
  (vec (keep-indexed (fn [i c] (when (pos? (long c)) [i c])) choices)))

(defn- smaller
  "Candidate schedules one step simpler than preemptions ps: one preemption
  fewer, one moved earlier, or one with a smaller choice."
  [ps]
  (let [n (count ps)]
    (concat (for [i (range n)] (into (subvec ps 0 i) (subvec ps (inc i))))
            (for [i (range n)
                  :let [[k c] (ps i)]
                  k' (distinct [0 (quot (long k) 2) (dec (long k))])
                  :when (< -1 k' k)]
              (vec (sort-by first (assoc ps i [k' c]))))
            (for [i (range n)
                  :let [[k c] (ps i)]
                  c' (range 1 c)]
              (assoc ps i [k c'])))))

(defn- bounded
  "All schedules of exactly m preemptions (m = 1 or 2) among the first n
  decisions, choices 1..3, earliest first."
  [m n]
  (case (long m)
    1 (for [k (range n) c (range 1 4)] [[k c]])
    2 (for [k1 (range n) k2 (range (inc k1) n) c1 (range 1 4) c2 (range 1 4)] [[k1 c1] [k2 c2]])))

(defn minimize-schedule
  "Simplify a failing schedule, given the choices a failing run made, into
  sparse {:preemptions [[decision choice] ...]} with as few preemptions as
  it can: first greedily (drop one, move one earlier, lower one's choice,
  keeping any candidate that still fails: the property is false, or
  system-fn throws or cannot finish), then, when that leaves more than one,
  by trying every schedule of one and then of two preemptions among the
  decisions of the failing run (preemption bounding, as in CHESS). At most
  `budget` runs (default 3000). Returns the simplest failing schedule found."
  ([choices system-fn property-fn max-steps] (minimize-schedule choices system-fn property-fn max-steps 3000))
  ([choices system-fn property-fn max-steps budget]
   (let [left (volatile! budget)
         fails (fn [ps] (and (pos? (vswap! left dec))
                             (fails? {:preemptions ps} system-fn property-fn max-steps)))
         greedy (loop [ps (sparse choices)]
                  (if-let [better (first (filter fails (smaller ps)))]
                    (recur better)
                    ps))
         n (count choices)
         fewer (some (fn [m] (when (< m (count greedy)) (first (filter fails (bounded m n)))))
                     [1 2])]
     {:preemptions (or fewer greedy)})))

(defn- failure-report [tc-result schedule run]
  (str "tasklet.test: property failed under a schedule (test.check seed " (:seed tc-result)
       ", failing after " (:num-tests tc-result) " tests, "
       (get-in tc-result [:shrunk :total-nodes-visited]) " shrink steps)\n"
       "shrunk schedule: " (pr-str schedule)
       "  (" (count (remove zero? (:choices run))) " preemption(s); replay with "
       "(run-schedule " (pr-str schedule) " system-fn))\n"
       (if (:error run)
         (str "error: " (ex-message (:error run)) "\n")
         (str "result: " (pr-str (shorten (:result run))) "\n"))
       "trace (step, * = preempted, tasklet, runnable ones and choice, what it did):\n"
       (format-trace (:trace run))))

(defn check-interleavings
  "Run (system-fn) under `schedule`s generated by test.check, :num-tests
  times (default 100), and check (property-fn result) for its return value;
  a system-fn that throws, deadlocks or runs past :max-steps fails too.
  A failing schedule is shrunk by test.check, then by `minimize-schedule`
  toward the fewest, earliest preemptions.
  Returns test.check's result map; on failure also :schedule (the shrunk
  one, as {:preemptions [[decision choice] ...]}), :run (its replay, with
  :trace) and :report (a text with the
  test.check seed and the trace of deliveries: which tasklet ran and which
  messages it sent and took), which is printed unless :quiet? is true.
  Options: :num-tests, :seed (test.check's, to reproduce), :max-choices,
  :max-steps, :quiet?."
  ([system-fn property-fn] (check-interleavings {} system-fn property-fn))
  ([{:keys [num-tests seed max-steps quiet?] :or {num-tests 100 max-steps 100000} :as opts}
    system-fn property-fn]
   (check-available)
   (let [p (prop/for-all [s (schedule opts)]
             (let [{:keys [result error]} (run-schedule (assoc s :max-steps max-steps :record? false)
                                                        system-fn)]
               (if error (throw error) (boolean (property-fn result)))))
         res (apply tc/quick-check num-tests p (if seed [:seed seed] []))]
     (if (:pass? res)
       res
       (let [shrunk (-> res :shrunk :smallest first)
             made (:choices (run-schedule (assoc shrunk :max-steps max-steps :record? false) system-fn))
             s (minimize-schedule made system-fn property-fn max-steps)
             run (run-schedule (assoc s :max-steps max-steps :record? true) system-fn)
             report (failure-report res s run)]
         (when-not quiet? (println report))
         (assoc res :schedule s :run run :report report))))))
