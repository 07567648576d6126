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
  - :intensity  restarts allowed within :period-ms (default 1); one more ends
                the supervisor: it stops its children (last first) and exits
                with reason :shutdown, so its own supervisor sees it
  - :period-ms  the window for :intensity, in ms (default 5000), on the
                clock of the supervisor's node (tasklet.core/monotonic-ms:
                virtual time under tasklet.test)
  - :children   child specs, started in this order, stopped in reverse

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

  A malformed spec is refused with ex-info {:tasklet/error :badarg, :key k}
  naming the bad key, before anything starts (nested supervisor specs
  included). A failed restart counts as one more restart and is retried."
  (:require [tasklet.core :as t :refer [! self receive]]
            [tasklet.impl.crash :as crash]
            [tasklet.server :as server])
  (:import [clojure.lang MultiFn]
           [tasklet.kernel TaskletExit]))

;; ---------------------------------------------------------------------------
;; Specs

(declare run)

(def ^:private strategies #{:one-for-one :one-for-all :rest-for-one})
(def ^:private restart-types #{:permanent :transient :temporary})
(def ^:private child-types #{:worker :supervisor})

(defn- badarg [message data]
  (ex-info message (assoc data :tasklet/error :badarg)))

(defn- function? [f]
  (or (fn? f) (var? f) (instance? MultiFn f)))

(defn- supervisor-start? [f]
  (or (identical? f run) (= f #'run)))

(defn- check-key [m k ok? expected what]
  (let [v (get m k)]
    (when-not (or (nil? v) (ok? v))
      (throw (badarg (str what k " must be " expected ", got " (pr-str v))
                     {:key k :value v})))))

(declare check-spec)

(defn- check-child [c]
  (when-not (map? c)
    (throw (badarg (str "a child spec is a map with :id and :start, got " (pr-str c))
                   {:key :children :value c})))
  (let [what (str "child spec " (pr-str (:id c)) ": ")]
    (when (nil? (:id c))
      (throw (badarg (str "child spec " (pr-str c) " has no :id; give each child a unique :id")
                     {:key :id :value nil})))
    (when-not (and (vector? (:start c)) (function? (first (:start c))))
      (throw (badarg (str what ":start must be [f & args] with f a function or a var, got "
                          (pr-str (:start c)))
                     {:key :start :value (:start c) :id (:id c)})))
    (check-key c :restart restart-types "one of :permanent :transient :temporary" what)
    (check-key c :shutdown #(or (nat-int? %) (#{:brutal-kill :infinity} %))
               "milliseconds, :infinity or :brutal-kill" what)
    (check-key c :type child-types "one of :worker :supervisor" what)
    (let [[f spec] (:start c)]
      (when (supervisor-start? f) (check-spec spec)))))

(defn- check-ids [children]
  (reduce (fn [seen {:keys [id]}]
            (if (contains? seen id)
              (throw (badarg (str "two children have the :id " (pr-str id) "; ids must be unique")
                             {:key :id :value id}))
              (conj seen id)))
          #{} children))

(defn- check-spec
  "Throws ex-info {:tasklet/error :badarg :key k} unless spec is well formed."
  [spec]
  (when-not (map? spec)
    (throw (badarg (str "a supervisor spec is a map like {:strategy :one-for-one :children [...]}, got "
                        (pr-str spec))
                   {:key :spec :value spec})))
  (let [what "supervisor spec: "]
    (check-key spec :strategy strategies "one of :one-for-one :one-for-all :rest-for-one" what)
    (check-key spec :intensity nat-int? "a non-negative integer" what)
    (check-key spec :period-ms pos-int? "a positive integer (ms)" what)
    (check-key spec :children sequential? "a vector of child specs" what))
  (run! check-child (:children spec))
  (check-ids (:children spec))
  spec)

(defn- child
  "A checked child spec with its defaults, not running."
  [c]
  (let [type (or (:type c) (if (supervisor-start? (first (:start c))) :supervisor :worker))]
    {:id (:id c)
     :start (:start c)
     :restart (or (:restart c) :permanent)
     :shutdown (or (:shutdown c) (if (= :supervisor type) :infinity 5000))
     :type type
     :pid nil}))

;; ---------------------------------------------------------------------------
;; Children: start and stop

(defn- log
  "A supervisor report (OTP's error logger), level :warning or :error, to
  wherever tasklet.core/set-crash-handler! sends reports."
  [level ^String message ^Throwable e]
  (crash/report! {:kind :supervisor :level level :pid (self) :reason e
                  :message (if e (str message ": " (crash/describe e)) message)}))

(defn- failed-to-start [c ^Throwable e]
  (ex-info (str "supervisor " (self) ": child " (pr-str (:id c)) " failed to start: "
                (or (ex-message e) (.getName (class e))))
           {:tasklet/error :failed-to-start-child :id (:id c) :reason e}
           e))

(defn- try-start
  "Start child c, linked. Returns c with its :pid, or the ex-info made by
  `failed-to-start`."
  [c]
  (let [[f & args] (:start c)]
    (try
      (assoc c :pid (if (server/acks-start? f)
                      (server/start-sync f args true)
                      (t/spawn-fn f args {:link true})))
      (catch TaskletExit e (throw e))
      (catch Throwable e (failed-to-start c e)))))

(defn- await-down [mref ms]
  (receive
    [:DOWN mref :process _ _] true
    (after ms false)))

(defn- shutdown-child
  "Stop child c if it runs: exit signal :shutdown, then :kill after its
  :shutdown ms (or :kill at once for :brutal-kill). Waits until it has ended
  and takes its [:EXIT ...] (it is linked). Returns c, not running."
  [{:keys [pid shutdown] :as c}]
  (when pid
    (let [mref (t/monitor pid)]
      (if (= :brutal-kill shutdown)
        (t/exit pid :kill)
        (t/exit pid :shutdown))
      (when-not (await-down mref (if (number? shutdown) shutdown :infinity))
        (t/exit pid :kill)
        (await-down mref :infinity))
      (receive [:EXIT pid _] nil (after 0 nil))))
  (assoc c :pid nil))

(defn- shutdown-from
  "Stop children[i..], last first; temporary ones are forgotten."
  [children i]
  (let [stopped (mapv shutdown-child (rseq (subvec children i)))]
    (into (subvec children 0 i)
          (remove #(= :temporary (:restart %)))
          (rseq stopped))))

(defn- start-range
  "Start children[i..j) in order. Returns [children nil] or, when one fails,
  [children failed-index exception] with that one and those after it not
  started."
  [children i j]
  (loop [cs children k i]
    (if (>= k j)
      [cs nil nil]
      (let [r (try-start (cs k))]
        (if (map? r)
          (recur (assoc cs k r) (inc k))
          [cs k r])))))

(defn- index-of [children k v]
  (first (keep-indexed (fn [i c] (when (= v (get c k)) i)) children)))

(defn- remove-at [v i]
  (into (subvec v 0 i) (subvec v (inc i))))

;; ---------------------------------------------------------------------------
;; Restarts

(defn- restart?
  "Whether child c, ended with reason, is restarted (temporary ones are
  handled before)."
  [c reason]
  (or (= :permanent (:restart c))
      (not (or (= :normal reason) (= :shutdown reason)
               (and (vector? reason) (= :shutdown (nth reason 0 nil)))))))

(defn- restart-by-strategy
  "Restart child id (not running) by the strategy. A child that fails to
  start is retried through a [::restart id] message to self, which counts
  as one more restart."
  [state id]
  (let [strategy (:strategy state)
        cs (:children state)
        i (index-of cs :id id)
        cs (case strategy
             :one-for-one cs
             :one-for-all (shutdown-from cs 0)
             :rest-for-one (shutdown-from cs i))
        i (index-of cs :id id)
        [cs failed e] (start-range cs (if (= :one-for-all strategy) 0 i)
                                   (if (= :one-for-one strategy) (inc i) (count cs)))]
    (when failed
      (log :warning
           (str "supervisor " (self) ": restart of child " (pr-str (:id (cs failed)))
                " failed, retrying") e)
      (! (self) [::restart (:id (cs failed))]))
    (assoc state :children cs)))

(defn- restart
  "Count one restart of child id; past the intensity, stop (children first,
  by :terminate) with :shutdown, else restart by the strategy."
  [state id]
  ;; the node's clock, not System/nanoTime: under virtual time (tasklet.test)
  ;; the window must pass as the children's `after` timeouts do
  (let [now (t/monotonic-ms)
        period (long (:period-ms state))
        rs (conj (filterv #(< (- now (long %)) period) (:restarts state)) now)
        state (assoc state :restarts rs)]
    (if (> (count rs) (:intensity state))
      (do (log :error
               (str "supervisor " (self) ": more than " (:intensity state) " restarts in "
                    period " ms (child " (pr-str id) "); shutting down") nil)
          (server/stop :shutdown state))
      (restart-by-strategy state id))))

(defn- child-exited [state pid reason]
  (let [cs (:children state)]
    (if-let [i (index-of cs :pid pid)]
      (let [c (cs i)]
        (cond
          (= :temporary (:restart c)) (assoc state :children (remove-at cs i))
          (restart? c reason) (restart (assoc-in state [:children i :pid] nil) (:id c))
          :else (assoc-in state [:children i :pid] nil)))
      state)))

(defn- retry [state id]
  (let [c (first (filter #(= id (:id %)) (:children state)))]
    (if (and c (nil? (:pid c)))
      (restart state id)
      state)))

;; ---------------------------------------------------------------------------
;; The supervisor as a server

(defn- init [spec]
  (t/trap-exit! true)
  (check-spec spec)
  (let [cs (mapv child (:children spec))
        [cs failed e] (start-range cs 0 (count cs))]
    (when failed
      (shutdown-from cs 0)
      (throw e))
    {:strategy (or (:strategy spec) :one-for-one)
     :intensity (or (:intensity spec) 1)
     :period-ms (or (:period-ms spec) 5000)
     :children cs
     :restarts []}))

(defn- not-found [id]
  [:error (ex-info (str "supervisor " (self) " has no child " (pr-str id))
                   {:tasklet/error :not-found :id id})])

(defn- running [c]
  [:error (ex-info (str "child " (pr-str (:id c)) " is running as " (:pid c)
                        "; terminate-child it first")
                   {:tasklet/error :running :id (:id c) :pid (:pid c)})])

(defn- add-child [state spec]
  (if-let [c (first (filter #(= (:id spec) (:id %)) (:children state)))]
    [[:error (badarg (str "supervisor " (self) " already has a child " (pr-str (:id spec))
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

(defn- handle-call [request _from state]
  (let [op (when (vector? request) (nth request 0 nil))
        arg (when (vector? request) (nth request 1 nil))
        [r state] (case op
                    ::which-children [[:ok (mapv child-info (:children state))] state]
                    ::count-children [[:ok (counts (:children state))] state]
                    ::start-child (add-child state arg)
                    ::terminate-child (with-child state arg terminate-child*)
                    ::restart-child (with-child state arg restart-child*)
                    ::delete-child (with-child state arg delete-child*)
                    [[:error (badarg (str "a supervisor does not understand " (pr-str request)) {:request request})]
                     state])]
    [:reply r state]))

(defn- handle-info [msg state]
  (cond
    (and (vector? msg) (= 3 (count msg)) (= :EXIT (msg 0))) (child-exited state (msg 1) (msg 2))
    (and (vector? msg) (= 2 (count msg)) (= ::restart (msg 0))) (retry state (msg 1))
    :else state))

(defn- terminate [_reason state]
  (shutdown-from (:children state) 0)
  nil)

(def ^:private impl
  {:init init
   :handle-call handle-call
   :handle-info handle-info
   :terminate terminate})

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

(server/acking! run)

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
  is being retried). sup is a pid, a registered name or [name node]."
  [sup]
  (sup-call sup [::which-children nil]))

(defn count-children
  "Counts for supervisor sup: {:specs n :active n :supervisors n :workers n},
  where :active counts running children and :supervisors/:workers count specs
  by :type, running or not (as OTP's count_children)."
  [sup]
  (sup-call sup [::count-children nil]))

(defn start-child
  "Add child spec to supervisor sup, start it after the existing children and
  return its pid. Throws ex-info {:tasklet/error :badarg, :key k} for a
  malformed spec or an :id already present (whether running or not), or
  {:tasklet/error :failed-to-start-child} when it fails to start (the spec is
  then not kept)."
  [sup spec]
  (check-child spec)
  (sup-call sup [::start-child spec]))

(defn terminate-child
  "Stop child id of sup as the supervisor would (its :shutdown rule) without
  restarting it; the spec is kept (except for a :temporary child), so
  restart-child can start it again. Returns true; true also when it was not
  running. Throws ex-info {:tasklet/error :not-found} for an unknown id."
  [sup id]
  (sup-call sup [::terminate-child id]))

(defn restart-child
  "Start again child id of sup, which must not be running (after
  terminate-child, or a transient child that ended normally). Returns its new
  pid. Throws ex-info {:tasklet/error :running} if it runs, {:tasklet/error
  :not-found} for an unknown id, {:tasklet/error :failed-to-start-child} if it
  fails to start."
  [sup id]
  (sup-call sup [::restart-child id]))

(defn delete-child
  "Remove the spec of child id from sup; it must not be running. Returns true.
  Throws ex-info {:tasklet/error :running} if it runs, {:tasklet/error
  :not-found} for an unknown id."
  [sup id]
  (sup-call sup [::delete-child id]))
