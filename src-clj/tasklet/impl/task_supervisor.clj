(ns ^:no-doc tasklet.impl.task-supervisor
  "Elixir's Task.Supervisor, its fire-and-forget half (doc/reference.md §7), exposed by
  tasklet.task as task/supervisor-spec and task/start-child: a
  :simple-one-for-one tasklet.supervisor whose children are :temporary
  tasks, each running (apply f args) and dropping its value. A task that
  crashes is reported (the kernel's crash report) and never restarted; it
  is linked to the supervisor only, so neither its crash nor its end reaches
  the tasklet that started it.

    (def s (sup/start-link {:children [(supervisor-spec {:name :tasks})]}))
    (start-child :tasks println \"hello from a task\")"
  (:require [tasklet.impl.error :refer [function?]]
            [tasklet.supervisor :as sup]))

(set! *warn-on-reflection* true)

(defn run-task
  "The body of a supervised task: (apply f args), its value dropped."
  [f args]
  (apply f args)
  nil)

(def ^:private option-keys #{:id :name :max-children :shutdown})

(defn- badarg [message data]
  (ex-info message (assoc data :tasklet/error :badarg)))

(defn- sup-spec [{:keys [max-children shutdown]}]
  (cond-> {:strategy :simple-one-for-one
           :children [{:id :task :start [#'run-task] :restart :temporary
                       :shutdown (or shutdown 5000) :type :worker}]}
    max-children (assoc :max-children max-children)))

(defn supervisor-spec
  "A child spec that starts a task supervisor under a supervisor:

    (sup/start-link {:children [(supervisor-spec {:name :tasks})]})

  Options (all optional):
  - :id            the child's id (default ::task-supervisor)
  - :name          register the task supervisor under this keyword
  - :max-children  at most this many tasks at once; start-child throws
                   {:tasklet/error :max-children} past it (default :infinity)
  - :shutdown      ms a task gets to end after the exit signal :shutdown
                   before it is killed, when the task supervisor stops
                   (default 5000), or :brutal-kill / :infinity

  Throws ex-info {:tasklet/error :badarg} for an unknown option; the
  supervisor spec itself is checked when it starts, as any child's is."
  ([] (supervisor-spec nil))
  ([opts]
   (when-not (or (nil? opts) (map? opts))
     (throw (badarg (str "task supervisor options are a map like {:name :tasks}, got " (pr-str opts))
                    {:opts opts})))
   (when-let [bad (seq (remove option-keys (keys opts)))]
     (throw (badarg (str "unknown task supervisor option(s) " (pr-str bad) "; known: "
                         (pr-str (sort option-keys)))
                    {:key (first bad)})))
   {:id (:id opts ::task-supervisor)
    :start (if (:name opts)
             [sup/run (sup-spec opts) {:name (:name opts)}]
             [sup/run (sup-spec opts)])
    :type :supervisor}))

(defn start-link
  "Start a task supervisor linked to the caller (options as
  `supervisor-spec`, :id aside) and return its pid."
  ([] (start-link nil))
  ([opts]
   (let [[_ spec run-opts] (:start (supervisor-spec opts))]
     (sup/start-link spec run-opts))))

(defn start-child
  "Start a task under task supervisor task-sup (a pid, a registered name or
  [name node]) running (apply f args), and return its pid. Fire and forget:
  the value is dropped; a crash is reported and not restarted, and does not
  reach the caller, which is not linked to the task. Throws ex-info
  {:tasklet/error :badarg} when f is not a function, {:tasklet/error
  :max-children} when the supervisor's :max-children tasks already run."
  [task-sup f & args]
  (when-not (function? f)
    (throw (badarg (str "start-child runs a function (a fn, var or multimethod), got " (pr-str f))
                   {:key :f :value f})))
  (sup/start-child task-sup [f args]))
