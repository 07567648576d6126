(ns tasklet.supervisor
  "OTP's supervisor for tasklets (doc/reference.md §3): a tasklet that starts children,
  watches them through links, and restarts them by a strategy, so that a crash
  is always handled somewhere.

    (def s (start-link {:strategy :one-for-one :intensity 3 :period-ms 5000
                        :children [{:id :cache :start [#'my.app/cache-loop {}]}
                                   {:id :db    :start [server/run db-impl cfg]}]}))

  It is an ordinary tasklet that traps exits, built as OTP builds its own: a
  tasklet.server whose :handle-info takes the children's [:EXIT pid reason]
  messages. Nothing in the kernel knows about it.

  Supervisor spec (a map; every key optional):
  - :strategy   :one-for-one (default)  restart the child that ended
                :one-for-all            stop all others, restart all
                :rest-for-one           stop the children started after it,
                                        restart it and them
                :simple-one-for-one     dynamic children (below)
  - :intensity  restarts allowed within :period-ms (default 1); one more ends
                the supervisor: it stops its children (last first) and exits
                with reason :shutdown, so its own supervisor sees it
  - :period-ms  the window for :intensity, in ms (default 5000), on the
                clock of the supervisor's node (tasklet.core/monotonic-ms:
                virtual time under tasklet.test)
  - :children   child specs, started in this order, stopped in reverse
  - :max-children  :simple-one-for-one only: at most this many children
                (default :infinity)

  Child spec (a map):
  - :id        required, unique within the supervisor (any value but nil)
  - :start     required, [f & args]: the supervisor spawn-links (apply f args).
               A nested supervisor is [run spec]; a server is
               [tasklet.server/run impl arg]. Both are waited for until their
               :init has returned before the next child starts; a plain
               function counts as started once spawned (so one that traps
               exits can still be ended by a :shutdown that comes before its
               (trap-exit! true); make it a server to start synchronously).
  - :restart   :permanent (default) always restarted; :transient restarted
               after an abnormal exit (not :normal, :shutdown or
               [:shutdown x]); :temporary never restarted, and forgotten once
               it ends
  - :shutdown  ms to wait after the exit signal :shutdown before :kill
               (default 5000; :infinity for supervisors), :infinity, or
               :brutal-kill to :kill at once
  - :type      :worker or :supervisor (default: :supervisor when :start is
               [run ...], else :worker)

  :simple-one-for-one (OTP's simple_one_for_one, Elixir's DynamicSupervisor):
  :children holds exactly one child spec, the template, and no child runs at
  start. (start-child sup [extra args]) spawn-links (apply f base-args
  extra-args) for the template's :start [f & base-args]; a restarted child
  gets the same extra args. Restart types and intensity are as above; a
  child is stopped with (terminate-child sup pid). On the way out all
  children are stopped at once, in no order, each with the template's
  :shutdown. Children are kept in a map by pid, so starting, ending and
  counting cost the same with 100,000 children as with ten.

    (def s (start-link {:strategy :simple-one-for-one :max-children 10000
                        :children [{:id :conn :start [#'my.app/conn cfg]
                                    :restart :transient}]}))
    (start-child s [socket])   ; => pid running (my.app/conn cfg socket)

  sys (OTP's sys module, used by tasklet.sys): a message [:tasklet/system
  from request] is answered with tasklet.server/reply:
  - :get-state          [:ok state]: the state as a plain map (:strategy
                        :intensity :period-ms :restarts :children, and for
                        :simple-one-for-one :template :max-children
                        :restarting, :children then being {pid extra-args})
  - [:replace-state f]  [:ok (f state)], or [:error e] keeping the state
                        when f throws or returns no map with the same
                        :strategy
  - :suspend, :resume   [:ok :ok]; while suspended only system messages
                        (and the parent's exit signal) are handled, all
                        else waits in the mailbox
  - :statistics         [:ok {:start-ms :now-ms :messages-in}], times on the
                        node's clock (tasklet.core/monotonic-ms), messages
                        counting calls and other messages, not system ones

  A malformed spec is refused with ex-info {:tasklet/error :badarg, :key k}
  naming the bad key, before anything starts (nested supervisor specs
  included). A failed restart counts as one more restart and is retried."
  (:require [tasklet.core :as t :refer [self]]
            [tasklet.impl.error :refer [error]]
            [tasklet.impl.start :as start]
            [tasklet.impl.supervisor-children :refer [index-of remove-at shutdown-child shutdown-from
                                                      start-range try-start]]
            [tasklet.impl.supervisor-dynamic :as dynamic]
            [tasklet.impl.supervisor-restart :refer [child-exited retry]]
            [tasklet.impl.supervisor-spec :refer [check-child check-spec child]]
            [tasklet.impl.supervisor-sys :as sys]
            [tasklet.server :as server]))

(set! *warn-on-reflection* true)

;; The nouns under the supervisor, one namespace each: tasklet.impl.supervisor-spec
;; (specs and their checks), -children (start and stop), -restart (strategies
;; and intensity), -dynamic (:simple-one-for-one), -sys (the sys protocol).
;; Here: the supervisor as a server, and the public API.

;; ---------------------------------------------------------------------------
;; The supervisor as a server

(defn- short-str [x]
  (binding [*print-length* 8 *print-level* 3] (pr-str x)))

(defn- dynamic? [state]
  (identical? :simple-one-for-one (:strategy state)))

(defn- init [spec]
  (let [sys-entry (sys/init)]
    (t/trap-exit! true)
    (check-spec spec)
    (let [state {:strategy (or (:strategy spec) :one-for-one)
                 :intensity (or (:intensity spec) 1)
                 :period-ms (or (:period-ms spec) 5000)
                 :restarts []
                 ::sys/sys sys-entry}]
      (if (dynamic? state)
        (merge state (dynamic/dynamic-state spec))
        (let [cs (mapv child (:children spec))
              [cs failed e] (start-range cs 0 (count cs))]
          (when failed
            (shutdown-from cs 0)
            (throw e))
          (assoc state :children cs))))))

(defn- not-found [id]
  [:error (ex-info (str "supervisor " (self) " has no child " (pr-str id))
                   {:tasklet/error :not-found :id id})])

(defn- running [c]
  [:error (ex-info (str "child " (pr-str (:id c)) " is running as " (:pid c)
                        "; terminate-child it first")
                   {:tasklet/error :running :id (:id c) :pid (:pid c)})])

(defn- add-child [state spec]
  (if-let [c (first (filter #(= (:id spec) (:id %)) (:children state)))]
    [[:error (error :badarg (str "supervisor " (self) " already has a child " (pr-str (:id spec))
                                 (if (:pid c) (str ", running as " (:pid c)) ", stopped: restart-child or delete-child it"))
                            {:key :id :value (:id spec) :pid (:pid c)})]
     state]
    (let [r (try-start (child spec))]
      (if (map? r)
        [[:ok (:pid r)] (update state :children conj r)]
        [[:error r] state]))))

(defn- with-child
  "Apply (f state i child) to the child with id, or answer :not-found."
  [state id f]
  (if-let [i (index-of (:children state) :id id)]
    (f state i ((:children state) i))
    [(not-found id) state]))

(defn- terminate-child* [state i c]
  (shutdown-child c)
  [[:ok true]
   (if (= :temporary (:restart c))
     (update state :children remove-at i)
     (assoc-in state [:children i :pid] nil))])

(defn- restart-child* [state i c]
  (if (:pid c)
    [(running c) state]
    (let [r (try-start c)]
      (if (map? r)
        [[:ok (:pid r)] (assoc-in state [:children i] r)]
        [[:error r] state]))))

(defn- delete-child* [state i c]
  (if (:pid c)
    [(running c) state]
    [[:ok true] (update state :children remove-at i)]))

(defn- child-info [c]
  (select-keys c [:id :pid :type :restart]))

(defn- counts [children]
  {:specs (count children)
   :active (count (filter :pid children))
   :supervisors (count (filter #(= :supervisor (:type %)) children))
   :workers (count (filter #(= :worker (:type %)) children))})

(defn- no-ids [op]
  [:error (ex-info (str "a :simple-one-for-one supervisor has no child ids, so no " (name op)
                        "; stop a child with (terminate-child sup pid) and start one with"
                        " (start-child sup [extra args])")
                   {:tasklet/error :simple-one-for-one :op op})])

(defn- static-call [op arg state]
  (case op
    ::which-children [[:ok (mapv child-info (:children state))] state]
    ::count-children [[:ok (counts (:children state))] state]
    ::start-child (if (map? arg)
                    (add-child state arg)
                    [[:error (error :badarg (str "start-child of a " (:strategy state) " supervisor takes a"
                                                 " child spec map, got " (short-str arg))
                                            {:key :spec :value arg})]
                     state])
    ::terminate-child (with-child state arg terminate-child*)
    ::restart-child (with-child state arg restart-child*)
    ::delete-child (with-child state arg delete-child*)
    nil))

(defn- dynamic-call [op arg state]
  (case op
    ::which-children [[:ok (dynamic/dynamic-which-children state)] state]
    ::count-children [[:ok (dynamic/dynamic-counts state)] state]
    ::start-child (dynamic/add-dynamic-child state arg)
    ::terminate-child (dynamic/terminate-dynamic-child state arg)
    ::restart-child [(no-ids :restart-child) state]
    ::delete-child [(no-ids :delete-child) state]
    nil))

(defn- count-in [state]
  (sys/count-in state))

(defn- handle-call [request _from state]
  (let [op (when (vector? request) (nth request 0 nil))
        arg (when (vector? request) (nth request 1 nil))
        state (count-in state)
        [r state] (or (if (dynamic? state) (dynamic-call op arg state) (static-call op arg state))
                      [[:error (error :badarg (str "a supervisor does not understand " (short-str request))
                                              {:request request})]
                       state])]
    [:reply r state]))

(defn- handle-info [msg state]
  (cond
    (sys/system-message? msg) (sys/handle state (nth msg 1) (nth msg 2))

    (and (vector? msg) (= 3 (count msg)) (= :EXIT (msg 0)))
    (if (dynamic? state)
      (dynamic/dynamic-exited (count-in state) (msg 1) (msg 2))
      (child-exited (count-in state) (msg 1) (msg 2)))

    (and (vector? msg) (= 2 (count msg)) (= ::restart (msg 0)))
    (if (dynamic? state) (dynamic/dynamic-retry state (msg 1)) (retry state (msg 1)))

    :else (count-in state)))

(defn- terminate [_reason state]
  (if (dynamic? state)
    (dynamic/shutdown-dynamic state)
    (shutdown-from (:children state) 0))
  nil)

(def ^:private impl
  {:init init
   :handle-call handle-call
   :handle-info handle-info
   :terminate terminate
   ;; a supervisor answers sys itself (tasklet.impl.supervisor-sys): a
   ;; replaced state must still be a supervisor's, and while suspended it
   ;; still acts on its parent's exit signal
   :handle-system? true})

;; ---------------------------------------------------------------------------
;; Public API

(defn run
  "Become a supervisor for spec (see the namespace doc) in the calling
  tasklet: trap exits, start the children in order, then supervise until the
  intensity is exceeded (exit :shutdown) or its parent ends (exit with the
  parent's reason). Either way the children are stopped first, last first.

  This is the function a nested supervisor's child spec names:
    {:id :workers :start [sup/run {:strategy :one-for-all :children [...]}]}
  Its parent starts the next child only once all of these children started.

  Options: {:name kw} registers the supervisor as kw."
  ([spec] (server/run impl spec))
  ([spec opts] (server/run impl spec opts)))

(start/acking! run)

(defn start-link
  "Check spec, start a supervisor for it linked to the caller, and return its
  pid once every child has started (in order).

  Throws, with nothing left running:
  - ex-info {:tasklet/error :badarg, :key k} for a malformed spec or child
    spec (k names the bad key), before anything starts;
  - ex-info {:tasklet/error :failed-to-start-child, :id id, :reason e} (cause
    e) when child id failed to start (its :init threw, or it could not be
    spawned); the children started before it were stopped, last first, and
    this is also the supervisor's exit reason.

  Options: {:name kw} registers the supervisor as kw. As with any link, a
  caller that does not trap exits ends when the supervisor ends (e.g. with
  :shutdown once the restart intensity is exceeded)."
  ([spec] (start-link spec nil))
  ([spec opts]
   (check-spec spec)
   (server/start-link impl spec opts)))

(defn- unwrap [[status v]]
  (if (= :ok status) v (throw v)))

(defn- sup-call [sup request]
  (unwrap (server/call sup request :infinity)))

(defn which-children
  "The children of supervisor sup in start order, as maps {:id :pid :type
  :restart}; :pid is nil for a child not running (a transient child that ended
  normally, one stopped by terminate-child, or one whose restart failed and
  is being retried). sup is a pid, a registered name or [name node].

  For :simple-one-for-one, the running children in no particular order, then
  one map with :pid nil per child whose restart is being retried; :id is nil
  (OTP's undefined: these children have no ids). O(children): 100,000
  children are one pass over a map."
  [sup]
  (sup-call sup [::which-children nil]))

(defn count-children
  "Counts for supervisor sup: {:specs n :active n :supervisors n :workers n},
  where :active counts running children and :supervisors/:workers count specs
  by :type, running or not (as OTP's count_children). For
  :simple-one-for-one, :specs is 1 and :supervisors/:workers count the
  children (running or being restarted) by the template's :type; O(1)
  whatever the number of children."
  [sup]
  (sup-call sup [::count-children nil]))

(defn start-child
  "Start a child of supervisor sup and return its pid.

  (start-child sup spec), for :one-for-one, :one-for-all and :rest-for-one:
  add child spec, start it after the existing children. Throws ex-info
  {:tasklet/error :badarg, :key k} for a malformed spec or an :id already
  present (whether running or not).

  (start-child sup [extra args]), for :simple-one-for-one: spawn-link
  (apply f base-args extra-args) from the template's :start [f & base-args].
  Throws ex-info {:tasklet/error :max-children, :max-children n} when n
  children already run (or are being restarted), and {:tasklet/error
  :badarg} when extra args is not a vector.

  Either way, {:tasklet/error :failed-to-start-child} when the child fails to
  start (nothing is kept)."
  [sup spec-or-extra-args]
  (when (map? spec-or-extra-args)
    (check-child spec-or-extra-args))
  (sup-call sup [::start-child spec-or-extra-args]))

(defn terminate-child
  "Stop a child of sup as the supervisor would (its :shutdown rule) without
  restarting it, and return true.

  (terminate-child sup id) for the strategies with ids: the spec is kept
  (except for a :temporary child), so restart-child can start it again;
  true also when it was not running; ex-info {:tasklet/error :not-found} for
  an unknown id.

  (terminate-child sup pid) for :simple-one-for-one: the child is stopped
  and forgotten; ex-info {:tasklet/error :not-found} when pid is not a
  running child of sup (it may have ended already)."
  [sup id-or-pid]
  (sup-call sup [::terminate-child id-or-pid]))

(defn restart-child
  "Start again child id of sup, which must not be running (after
  terminate-child, or a transient child that ended normally). Returns its new
  pid. Throws ex-info {:tasklet/error :running} if it runs, {:tasklet/error
  :not-found} for an unknown id, {:tasklet/error :failed-to-start-child} if it
  fails to start, {:tasklet/error :simple-one-for-one} for a
  :simple-one-for-one supervisor (it has no ids)."
  [sup id]
  (sup-call sup [::restart-child id]))

(defn delete-child
  "Remove the spec of child id from sup; it must not be running. Returns true.
  Throws ex-info {:tasklet/error :running} if it runs, {:tasklet/error
  :not-found} for an unknown id, {:tasklet/error :simple-one-for-one} for a
  :simple-one-for-one supervisor (it has no ids)."
  [sup id]
  (sup-call sup [::delete-child id]))
