(ns tasklet.task
  "Elixir's Task for tasklets (doc/reference.md §7): run a function in a tasklet of its
  own and collect its value later, or map a function over a collection with
  bounded concurrency.

    (def t (async (fn [] (+ 1 2))))
    (await t)                                ; => 3
    (async-stream [1 2 3] inc {:max-concurrency 2})
    ;; => ([:ok 2] [:ok 3] [:ok 4])

  Built on tasklet.core alone, the way Elixir builds Task on plain processes:
  a task is a tasklet linked to its owner (the tasklet or thread that called
  `async`) and monitored by it; it sends its value to the owner in a message
  tagged with a fresh ref, and the owner takes that message (or the :DOWN of
  the monitor) in `await`, `yield` or `shutdown`. Only the owner may do so:
  the messages are in its mailbox.

  As in Elixir, the link means that a task that crashes takes its owner
  with it, unless the owner traps exits: then the owner gets the task's
  [:EXIT pid reason] message and `await` throws the crash. Failing fast is
  the point; when a crash must be a value, trap exits or use `yield`.

  Messages (internal, listed so that a trace makes sense):
  - [tag value]                     a task's value, tag being its fresh ref
  - [tag index value finished-ms]   an async-stream task's value"
  (:refer-clojure :exclude [await])
  (:require [tasklet.core :as t :refer [! self receive]]
            [tasklet.impl.error :refer [error function?]]
            [tasklet.impl.task-supervisor :as ts])
  (:import [clojure.lang ExceptionInfo]))

(set! *warn-on-reflection* true)

;; ---------------------------------------------------------------------------
;; Errors

(defn- error-with-cause
  ^ExceptionInfo [kind message data cause]
  (ex-info message (assoc data :tasklet/error kind) cause))

(defn- exit-error
  "What await throws when the task ended with reason before replying:
  ex-info {:tasklet/error :exit, :reason reason}, with a Throwable reason as
  its cause (so (ex-cause e) is the task's own exception)."
  [task reason]
  (if (instance? Throwable reason)
    (error-with-cause :exit (str "task " (pr-str (:pid task)) " crashed: " (ex-message reason))
                      {:reason reason :task task} reason)
    (error :exit (str "task " (pr-str (:pid task)) " exited with reason " (pr-str reason)
                      " before it replied")
           {:reason reason :task task})))

(defn- check-timeout [timeout-ms what]
  (when-not (or (nil? timeout-ms) (= :infinity timeout-ms)
                (and (number? timeout-ms) (not (neg? (double timeout-ms)))))
    (throw (error :badarg (str what ": a timeout is milliseconds (a non-negative number), nil or"
                               " :infinity, got " (pr-str timeout-ms))
                  {:timeout timeout-ms}))))

;; ---------------------------------------------------------------------------
;; The task value

;; pid: the task's tasklet; ref: the owner's monitor of it; owner: the pid that
;; may await it. tag and gate are the reply's: the task sends [tag value] only
;; if it closes the gate (an atom, false while open) first, so an owner that
;; gave up (its await timed out) closes the gate and never gets a late reply
;; (Elixir's alias). outcome is
;; written by the owner alone: nil while the result is still to be taken,
;; then [:ok v], [:exit reason], :timed-out or :shut-down.
(defrecord Task [pid ref owner tag gate outcome])

(defmethod print-method Task [^Task task ^java.io.Writer w]
  (.write w (str "#tasklet.task.Task{:pid " (pr-str (:pid task)) ", :owner " (pr-str (:owner task)) "}")))

(defn- task-body
  "What a task runs: f on args, then its value to the owner unless the owner
  gave up first."
  [f args owner tag gate]
  (let [v (apply f args)]
    (when (compare-and-set! gate false true)
      (! owner [tag v]))
    nil))

(defn async
  "Start a task running (apply f args) and return it, to be awaited by the
  caller (its owner) with `await` or `yield`. The task is a tasklet linked to
  the caller and monitored by it, atomically at spawn (Elixir's Task.async):
  if it crashes, the caller gets the exit signal (and ends, unless it traps
  exits). The caller's dynamic bindings are conveyed. Callable from a tasklet
  or a plain thread. Throws ex-info {:tasklet/error :badarg} when f is not a
  function.

    (let [a (async expensive 1) b (async expensive 2)]
      (+ (await a) (await b)))"
  ^Task [f & args]
  (when-not (function? f)
    (throw (error :badarg (str "async needs a function (a fn, a defn's var or a multimethod), got "
                               (pr-str f) "; wrap data in (fn [] ...)")
                  {:fn f})))
  (let [owner (self)
        tag (t/make-ref)
        gate (atom false)
        [pid mref] (t/spawn-fn task-body [f args owner tag gate] {:link true :monitor true})]
    (Task. pid mref owner tag gate (volatile! nil))))

(defn- check-task [task what]
  (when-not (instance? Task task)
    (throw (error :badarg (str what " needs a task made by tasklet.task/async, got " (pr-str task))
                  {:task task})))
  (when-not (= (self) (:owner task))
    (throw (error :badarg (str what ": task " (pr-str (:pid task)) " is owned by " (pr-str (:owner task))
                               ", not by " (pr-str (self)) "; only the tasklet that called async can"
                               " take its result")
                  {:task task :owner (:owner task) :caller (self)}))))

(defn- taken
  "The outcome already taken from task, or nil while there is none."
  [task]
  @(:outcome task))

(defn- take!
  "Record outcome o as taken; returns o."
  [task o]
  (vreset! (:outcome task) o))

(defn- await-reply
  "The reply that is on its way (the task closed the gate before us)."
  [task]
  (let [tag (:tag task) mref (:ref task)]
    (receive [tag v] (do (t/demonitor mref {:flush true}) [:ok v]))))

(defn- receive-outcome
  "[:ok v] or [:exit reason] once the task replied or ended, or nil when
  nothing came within timeout-ms (the result stays to be taken)."
  [task timeout-ms]
  (let [tag (:tag task) mref (:ref task)]
    (receive
      [tag v] (do (t/demonitor mref {:flush true}) [:ok v])
      [:DOWN mref :process _ reason] [:exit reason]
      (after timeout-ms nil))))

(defn- timed-out-error [task timeout-ms]
  (error :timeout (str "task " (pr-str (:pid task)) " did not reply within " timeout-ms
                       " ms; raise the timeout, or use yield to poll it")
         {:task task :timeout timeout-ms}))

(defn- spent-error [task what]
  (error :badarg (str what ": the result of task " (pr-str (:pid task)) " is gone: "
                      (if (= :timed-out (taken task))
                        "an earlier await timed out and dropped it"
                        "the task was shut down"))
         {:task task}))

(defn- value-of
  "await's answer for a taken outcome: the value, or a throw."
  [task o what]
  (case (if (vector? o) (nth o 0) o)
    :ok (nth o 1)
    :exit (throw (exit-error task (nth o 1)))
    (throw (spent-error task what))))

(defn await
  "Wait for task's value and return it. timeout-ms defaults to 5000; nil or
  :infinity waits for ever. Only the task's owner (the caller of `async`) may
  await it. Awaiting again returns the same value (or throws the same way).

  Throws:
  - ex-info {:tasklet/error :exit, :reason r, :task task} when the task ended
    with reason r before replying; when r is a Throwable (the task crashed)
    it is also the ex-info's cause. (A crash reaches a caller that does not
    trap exits as an exit signal first, through the link: it ends it.)
  - ex-info {:tasklet/error :timeout, :task task} when no value came in time.
    As in Elixir, the task goes on running, still linked; its value, if it
    comes later, is dropped: it never lands in the owner's mailbox, and the
    task can no longer be awaited (:badarg).
  - ex-info {:tasklet/error :badarg} when the caller does not own the task."
  ([task] (await task 5000))
  ([task timeout-ms]
   (check-task task "await")
   (check-timeout timeout-ms "await")
   (if-let [o (taken task)]
     (value-of task o "await")
     (let [o (or (receive-outcome task timeout-ms)
                 (if (compare-and-set! (:gate task) false true)
                   (do (t/demonitor (:ref task) {:flush true})
                       (take! task :timed-out)
                       (throw (timed-out-error task timeout-ms)))
                   (await-reply task)))]
       (value-of task (take! task o) "await")))))

(defn yield
  "Wait up to timeout-ms (default 5000; nil or :infinity: for ever) for task's
  result without giving up on it: [:ok value] once it replied, [:exit reason]
  once it ended without replying (reason being the Throwable it crashed
  with, or its exit reason), or nil while it is still running, and then it
  can be yielded or awaited again later. Only the owner may yield a task.
  Once a result has been taken, yield returns it again.

    (or (yield t 100) (shutdown t))   ; Elixir's idiom: wait a while, then stop it"
  ([task] (yield task 5000))
  ([task timeout-ms]
   (check-task task "yield")
   (check-timeout timeout-ms "yield")
   (if-let [o (taken task)]
     (if (vector? o) o (throw (spent-error task "yield")))
     (some->> (receive-outcome task timeout-ms) (take! task)))))

(defn shutdown
  "Stop task: unlink it, send it the exit signal :shutdown and wait up to
  timeout-ms (default 5000) for it to end, then :kill it; with :brutal-kill,
  :kill it at once. Returns [:ok value] when the task replied before it
  stopped, [:exit reason] when it had ended by itself with another reason,
  and nil otherwise (it was stopped, or its result had already been taken).
  Only the owner may shut a task down; the task cannot be awaited afterwards
  unless this returned its result."
  ([task] (shutdown task 5000))
  ([task timeout-ms]
   (check-task task "shutdown")
   (when-not (= :brutal-kill timeout-ms) (check-timeout timeout-ms "shutdown"))
   (when-not (taken task)
     (let [{:keys [pid ref tag]} task
           brutal? (= :brutal-kill timeout-ms)]
       (t/unlink pid)
       (t/exit pid (if brutal? :kill :shutdown))
       (let [reason (receive [:DOWN ref :process _ r] r
                             (after (if brutal? nil timeout-ms)
                               (t/exit pid :kill)
                               (receive [:DOWN ref :process _ r] r)))
             o (receive [tag v] [:ok v]
                        (after 0 (when-not (#{:shutdown :killed} reason) [:exit reason])))]
         (take! task (or o :shut-down))
         o)))))

;; ---------------------------------------------------------------------------
;; async-stream

(def ^:private stream-defaults
  {:ordered true :timeout 5000 :on-timeout :exit})

(defn- check-stream-opts [f opts]
  (when-not (function? f)
    (throw (error :badarg (str "async-stream needs a function, got " (pr-str f)) {:fn f})))
  (when-not (or (nil? opts) (map? opts))
    (throw (error :badarg (str "async-stream options are a map, got " (pr-str opts)) {:opts opts})))
  (let [{:keys [max-concurrency ordered timeout on-timeout]} opts]
    (when-not (or (nil? max-concurrency) (and (integer? max-concurrency) (pos? max-concurrency)))
      (throw (error :badarg (str "async-stream option :max-concurrency must be a positive integer, got "
                                 (pr-str max-concurrency))
                    {:key :max-concurrency :value max-concurrency})))
    (when-not (or (nil? ordered) (boolean? ordered))
      (throw (error :badarg (str "async-stream option :ordered must be true or false, got " (pr-str ordered))
                    {:key :ordered :value ordered})))
    (when-not (or (nil? timeout) (= :infinity timeout) (and (number? timeout) (pos? (double timeout))))
      (throw (error :badarg (str "async-stream option :timeout must be a positive number of ms or"
                                 " :infinity, got " (pr-str timeout))
                    {:key :timeout :value timeout})))
    (when-not (contains? #{nil :exit :kill-task} on-timeout)
      (throw (error :badarg (str "async-stream option :on-timeout must be :exit or :kill-task, got "
                                 (pr-str on-timeout))
                    {:key :on-timeout :value on-timeout})))))

(defn- stream-task-body [f x owner tag i]
  (let [v (f x)]
    (! owner [tag i v (t/monotonic-ms)])
    nil))

;; The stream's state, threaded through the lazy seq (the owner alone touches it):
;; input    the elements not yet started, a seq (nil when all started)
;; started  how many were started: the next element's index
;; running  {index {:pid :mref :start-ms}} of the tasks still alive
;; mrefs    {mref index} of the same tasks, to know a :DOWN as ours
;; replies  {index [value finished-ms]} replies of tasks whose :DOWN is to come
;; ready    ordered: {index result}, emitted from index `emitted`;
;;          unordered: a queue of results in the order the tasks ended
;; emitted  how many results were emitted
(defn- stream-state [coll]
  {:input (seq coll) :started 0 :running {} :mrefs {} :replies {} :ready nil :emitted 0})

(defn- fill
  "Start tasks until max-concurrency run or the input is used up."
  [st {:keys [f owner tag max-concurrency]}]
  (loop [st st]
    (if (and (:input st) (< (count (:running st)) (long max-concurrency)))
      (let [i (:started st)
            [pid mref] (t/spawn-fn stream-task-body [f (first (:input st)) owner tag i]
                                   {:link true :monitor true})]
        (recur (-> st
                   (assoc :input (next (:input st)) :started (inc i))
                   (assoc-in [:running i] {:pid pid :mref mref :start-ms (t/monotonic-ms)})
                   (assoc-in [:mrefs mref] i))))
      st)))

(defn- flush-exit
  "Drop the [:EXIT pid _] a trapping owner got through the link: the kernel
  signals links before monitors, so once the :DOWN is here, so is it."
  [pid]
  (receive [:EXIT pid _] nil (after 0 nil)))

(defn- ready-result
  "The next result to emit and the state without it, or nil."
  [st ordered?]
  (let [ready (:ready st)]
    (if ordered?
      (let [i (:emitted st)]
        (when (contains? ready i)
          [(get ready i) (-> st (update :ready dissoc i) (update :emitted inc))]))
      (when (seq ready)
        [(peek ready) (-> st (update :ready pop) (update :emitted inc))]))))

(defn- forget [st i]
  (-> st
      (update :mrefs dissoc (get-in st [:running i :mref]))
      (update :running dissoc i)
      (update :replies dissoc i)))

(defn- add-result [st i result ordered?]
  (-> (forget st i)
      (update :ready (fn [r] (if ordered? (assoc (or r {}) i result) (conj (or r clojure.lang.PersistentQueue/EMPTY) result))))))

(defn- timed-out? [{:keys [timeout]} start-ms end-ms]
  (and (number? timeout) (>= (- (long end-ms) (long start-ms)) (double timeout))))

(defn- on-down
  "Task i ended with reason: its result is its reply when it replied within
  the timeout, [:exit :timeout] (or a timeout error) when it replied late,
  else [:exit reason]."
  [st cfg i reason kill-all!]
  (let [{:keys [pid start-ms]} (get-in st [:running i])
        [v finished] (get-in st [:replies i])]
    (flush-exit pid)
    (cond
      (nil? finished) (add-result st i [:exit reason] (:ordered cfg))
      (not (timed-out? cfg start-ms finished)) (add-result st i [:ok v] (:ordered cfg))
      (= :kill-task (:on-timeout cfg)) (add-result st i [:exit :timeout] (:ordered cfg))
      :else (kill-all! (forget st i)))))

(defn- kill-task!
  "End running task i at once (unlinked first, so its end does not reach the
  owner) and take every message it left: its reply, its :DOWN, the :EXIT."
  [st cfg i]
  (let [{:keys [pid mref]} (get-in st [:running i])
        tag (:tag cfg)]
    (t/unlink pid)
    (t/exit pid :kill)
    (receive [:DOWN mref :process _ _] nil)
    (receive [tag i _ _] nil (after 0 nil))
    (flush-exit pid)
    (forget st i)))

(defn- stream-timeout-error [cfg]
  (error :timeout (str "an async-stream task ran past its :timeout of " (:timeout cfg)
                       " ms; raise :timeout, or pass :on-timeout :kill-task to get [:exit :timeout]"
                       " for that element instead")
         {:timeout (:timeout cfg)}))

(defn- kill-all-and-throw [cfg]
  (fn [st]
    (reduce (fn [st i] (kill-task! st cfg i)) st (keys (:running st)))
    (throw (stream-timeout-error cfg))))

(defn- next-deadline
  "The earliest end of a running task's time, or nil (no timeout)."
  [st {:keys [timeout]}]
  (when (number? timeout)
    (when-let [starts (seq (map :start-ms (vals (:running st))))]
      (+ (double (apply min starts)) (double timeout)))))

(defn- expire
  "Deal with the running tasks whose time is up at now-ms."
  [st cfg now-ms]
  (reduce (fn [st [i {:keys [start-ms]}]]
            (if (timed-out? cfg start-ms now-ms)
              (if (= :kill-task (:on-timeout cfg))
                (add-result (kill-task! st cfg i) i [:exit :timeout] (:ordered cfg))
                ((kill-all-and-throw cfg) st))
              st))
          st
          (sort-by key (:running st))))

(defn- stream-message
  "A matcher for the owner's messages that concern this stream: replies
  and the :DOWN of its tasks."
  [st tag]
  (fn [m]
    (when (vector? m)
      (let [k (nth m 0 nil)]
        (cond
          (= tag k) m
          (and (identical? :DOWN k) (== 5 (count m)) (contains? (:mrefs st) (nth m 1))) m)))))

(defn- step
  "Wait for one reply, :DOWN or expiry and fold it into the state."
  [st cfg]
  (let [now (t/monotonic-ms)
        deadline (next-deadline st cfg)]
    (if (and deadline (>= now (long (Math/ceil deadline))))
      (expire st cfg now)
      (let [m (t/receive-fn (stream-message st (:tag cfg))
                            (when deadline (- (long (Math/ceil deadline)) now))
                            t/timeout-marker)]
        (cond
          (identical? t/timeout-marker m) (expire st cfg (t/monotonic-ms))
          (identical? :DOWN (nth m 0))
          (on-down st cfg (get (:mrefs st) (nth m 1)) (nth m 4) (kill-all-and-throw cfg))
          :else (let [[_ i v finished] m] (assoc-in st [:replies i] [v finished])))))))

(defn- pull
  "[next-result state'], or nil when every element was emitted."
  [st cfg]
  (loop [st (fill st cfg)]
    (if-let [[r st'] (ready-result st (:ordered cfg))]
      [r (fill st' cfg)]
      (when (or (:input st) (seq (:running st)))
        (recur (fill (step st cfg) cfg))))))

(defn- emit
  "The lazy seq of results from state st; failed holds the error once a
  pull threw, so that realizing the seq again throws it again instead of
  waiting on tasks that are gone."
  [st cfg failed]
  (lazy-seq
    (when-let [e @failed] (throw e))
    (when-not (= (self) (:owner cfg))
      (throw (error :badarg (str "an async-stream is consumed by the tasklet that started consuming it ("
                                 (pr-str (:owner cfg)) "), not by " (pr-str (self))
                                 ": its tasks' replies are in that one's mailbox")
                    {:owner (:owner cfg) :caller (self)})))
    (when-let [[r st'] (try (pull st cfg)
                            (catch Throwable e (vreset! failed e) (throw e)))]
      (cons r (emit st' cfg failed)))))

(defn async-stream
  "Map f over coll in tasks, at most :max-concurrency at a time, as a lazy seq
  of results: [:ok (f x)] for an element whose task returned, [:exit reason]
  for one whose task ended without returning (a caller that traps exits sees
  crashes this way; one that does not is ended by the crash, through the
  link, as in Elixir), [:exit :timeout] for one that ran out of time under
  :on-timeout :kill-task.

  Nothing starts until the seq is consumed: the first realization starts up to
  :max-concurrency tasks, each completion starts the next element, and a
  result is emitted when it is the next in order (or at once, unordered).
  The caller that first realizes the seq owns it: realize it there, from a
  tasklet or a plain thread, not from several. Each task is linked to and
  monitored by that owner, and gets (f x) of one element; coll is read one
  element ahead of the tasks it starts.

  Options:
  - :max-concurrency  tasks at once (default: the number of processors)
  - :ordered          results in the order of coll (default true); false:
                      in the order the tasks end (no buffering)
  - :timeout          ms each task may run (default 5000; :infinity), on the
                      node's clock (virtual under tasklet.test)
  - :on-timeout       :exit (default): a task out of time makes the seq throw
                      ex-info {:tasklet/error :timeout}, after killing every
                      task still running; :kill-task: that task is killed and
                      its result is [:exit :timeout]

  A task's time is judged by its own clock reading when it finished, so a
  reply is never taken for late because the consumer was slow to look; a
  task still running past its time is killed when the consumer next waits.
  A seq abandoned half way leaves its running tasks to finish (or to die with
  the owner): their replies and :DOWNs, tagged with the stream's ref, then
  land in the owner's mailbox, so consume what you start (or take a bounded
  prefix in a tasklet that ends).

    (async-stream (range 5) #(* % %) {:max-concurrency 2})
    ;; => ([:ok 0] [:ok 1] [:ok 4] [:ok 9] [:ok 16])"
  ([coll f] (async-stream coll f nil))
  ([coll f opts]
   (check-stream-opts f opts)
   (let [opts (merge stream-defaults
                     {:max-concurrency (.availableProcessors (Runtime/getRuntime))}
                     (into {} (remove (comp nil? val)) opts))
         failed (volatile! nil)]
     (lazy-seq
       (let [cfg (assoc opts :f f :owner (self) :tag (t/make-ref))]
         (emit (stream-state coll) cfg failed))))))

;; ---------------------------------------------------------------------------
;; Task supervisors (Elixir's Task.Supervisor, fire-and-forget)

(defn supervisor-spec
  "A child spec that starts a task supervisor (Elixir's Task.Supervisor): a
  :simple-one-for-one supervisor of :temporary tasks, for `start-child`.

    (sup/start-link {:children [(task/supervisor-spec {:name :tasks})]})

  Options (all optional): :id (the child's id), :name (register the task
  supervisor under this keyword), :max-children (at most this many tasks at
  once; start-child throws {:tasklet/error :max-children} past it), :shutdown
  (ms a task gets to end after :shutdown before it is killed when the task
  supervisor stops; default 5000, or :brutal-kill / :infinity). Throws
  ex-info {:tasklet/error :badarg} for an unknown option."
  ([] (ts/supervisor-spec))
  ([opts] (ts/supervisor-spec opts)))

(defn start-child
  "Start a task under task supervisor task-sup (a pid, a registered name or
  [name node]) running (apply f args); returns its pid. Fire and forget: the
  value is dropped; a crash is reported and not restarted, and does not reach
  the caller, which is not linked to the task. Throws ex-info
  {:tasklet/error :badarg} when f is not a function, {:tasklet/error
  :max-children} when the supervisor's :max-children tasks already run."
  [task-sup f & args]
  (apply ts/start-child task-sup f args))
