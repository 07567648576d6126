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
  (:require [tasklet.core :as t :refer [! self receive]]
            [tasklet.impl.crash :as crash]
            [tasklet.impl.process :as process]
            [tasklet.impl.start :as start]
            [tasklet.impl.supervisor-sys :as sys]
            [tasklet.server :as server])
  (:import [clojure.lang MultiFn]))

(set! *warn-on-reflection* true)

;; ---------------------------------------------------------------------------
;; Specs

(declare run)

(def ^:private strategies #{:one-for-one :one-for-all :rest-for-one :simple-one-for-one})
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
    (check-key spec :strategy strategies
               "one of :one-for-one :one-for-all :rest-for-one :simple-one-for-one" what)
    (check-key spec :intensity nat-int? "a non-negative integer" what)
    (check-key spec :period-ms pos-int? "a positive integer (ms)" what)
    (check-key spec :children sequential? "a vector of child specs" what)
    (check-key spec :max-children #(or (nat-int? %) (= :infinity %))
               "a non-negative integer or :infinity" what)
    (if (= :simple-one-for-one (:strategy spec))
      (when-not (= 1 (count (:children spec)))
        (throw (badarg (str what "a :simple-one-for-one supervisor has exactly one child spec in"
                            " :children (the template of its children), got "
                            (count (:children spec)))
                       {:key :children :value (:children spec)})))
      (when (contains? spec :max-children)
        (throw (badarg (str what ":max-children is for :simple-one-for-one supervisors only;"
                            " remove it or change the :strategy")
                       {:key :max-children :value (:max-children spec)})))))
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
      (assoc c :pid (if (start/acks-start? f)
                      (start/start-sync f args true)
                      (t/spawn-fn f args {:link true})))
      (catch Throwable e
        (if (process/exit? e) (throw e) (failed-to-start c e))))))

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
  "Count one restart of child id (the id names it in the report); past the
  intensity, stop (children first, by :terminate) with :shutdown, else
  restart it with (again state)."
  [state id again]
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
      (again state))))

(defn- child-exited [state pid reason]
  (let [cs (:children state)]
    (if-let [i (index-of cs :pid pid)]
      (let [c (cs i)]
        (cond
          (= :temporary (:restart c)) (assoc state :children (remove-at cs i))
          (restart? c reason) (restart (assoc-in state [:children i :pid] nil) (:id c)
                                       #(restart-by-strategy % (:id c)))
          :else (assoc-in state [:children i :pid] nil)))
      state)))

(defn- retry [state id]
  (let [c (first (filter #(= id (:id %)) (:children state)))]
    (if (and c (nil? (:pid c)))
      (restart state id #(restart-by-strategy % id))
      state)))

;; ---------------------------------------------------------------------------
;; Dynamic children (:simple-one-for-one)
;;
;; State: :template is the one child spec; :children maps each running
;; child's pid to its extra args, :restarting maps a retry key to the extra
;; args of a child whose restart failed (retried by a [::restart key] message
;; to self). Invariants: a pid is in :children exactly while the supervisor
;; has not yet handled its [:EXIT ...]; every lookup is by pid, and
;; count-children is (count map), O(1) for a persistent map, so the cost of
;; a child's start, exit or count does not grow with the number of children.

(defn- dynamic-state [spec]
  {:template (child (first (:children spec)))
   :max-children (let [m (:max-children spec)] (when-not (= :infinity m) m))
   :children {}
   :restarting {}})

(defn- dynamic-spec
  "The template with extra args appended to its :start."
  [state extra]
  (let [tpl (:template state)]
    (assoc tpl :start (into (:start tpl) extra))))

(defn- start-dynamic
  "Start a child with extra args under retry key rkey (nil for a first
  start). On success its pid is in :children; when a restart fails it is
  kept in :restarting and retried, as OTP does."
  [state extra rkey]
  (let [r (try-start (dynamic-spec state extra))
        state (cond-> state rkey (update :restarting dissoc rkey))]
    (if (map? r)
      (assoc-in state [:children (:pid r)] extra)
      (let [k (or rkey (t/make-ref))]
        (log :warning
             (str "supervisor " (self) ": restart of a child with extra args " (pr-str extra)
                  " failed; retrying") r)
        (! (self) [::restart k])
        (assoc-in state [:restarting k] extra)))))

(defn- dynamic-exited [state pid reason]
  (if-let [extra (get (:children state) pid)]
    (let [state (update state :children dissoc pid)
          tpl (:template state)]
      (if (and (not= :temporary (:restart tpl)) (restart? tpl reason))
        (restart state (:id tpl) #(start-dynamic % extra nil))
        state))
    state))

(defn- dynamic-retry [state k]
  (if-let [extra (get (:restarting state) k)]
    (restart state (:id (:template state)) #(start-dynamic % extra k))
    state))

(defn- max-children-error [n]
  (ex-info (str "supervisor " (self) " already runs its :max-children " n
                " children; wait for one to end, or raise :max-children")
           {:tasklet/error :max-children :max-children n}))

(defn- add-dynamic-child [state extra]
  (let [n (:max-children state)]
    (cond
      (not (or (nil? extra) (sequential? extra)))
      [[:error (badarg (str "a :simple-one-for-one supervisor starts a child from a vector of"
                            " extra args, e.g. (start-child s [arg]), not " (pr-str extra))
                       {:key :extra-args :value extra})]
       state]

      (and n (>= (+ (count (:children state)) (count (:restarting state))) (long n)))
      [[:error (max-children-error n)] state]

      :else
      (let [r (try-start (dynamic-spec state (vec extra)))]
        (if (map? r)
          [[:ok (:pid r)] (assoc-in state [:children (:pid r)] (vec extra))]
          [[:error r] state])))))

(defn- terminate-dynamic-child [state pid]
  (if (contains? (:children state) pid)
    (do (shutdown-child {:pid pid :shutdown (:shutdown (:template state))})
        [[:ok true] (update state :children dissoc pid)])
    [[:error (ex-info (str "supervisor " (self) " has no child " (pr-str pid)
                           "; a :simple-one-for-one supervisor terminates children by pid")
                      {:tasklet/error :not-found :pid pid})]
     state]))

(defn- dynamic-which-children [state]
  (let [{:keys [type restart]} (:template state)
        info (fn [pid] {:id nil :pid pid :type type :restart restart})]
    (-> []
        (into (map info) (keys (:children state)))
        (into (map (fn [_] (info nil))) (:restarting state)))))

(defn- dynamic-counts [state]
  (let [n (+ (count (:children state)) (count (:restarting state)))
        sup? (= :supervisor (:type (:template state)))]
    {:specs 1
     :active (count (:children state))
     :supervisors (if sup? n 0)
     :workers (if sup? 0 n)}))

(defn- await-downs
  "Take the :DOWN of each monitor in pending (mref -> pid) until deadline
  (a monotonic-ms value, nil for ever); returns the pending left. Any
  [:EXIT ...] is taken too, so that each receive finds its message near the
  front of the mailbox: these children's exit signals arrive along with
  their :DOWNs, and nothing after this reads them."
  [pending deadline]
  (loop [pending pending]
    (if (empty? pending)
      pending
      (let [left (when deadline (max 0 (- (long deadline) (t/monotonic-ms))))
            m (t/receive-fn (fn [m]
                              (if (and (vector? m) (== 3 (count m)) (identical? :EXIT (nth m 0)))
                                m
                                (when (and (vector? m) (== 5 (count m)) (identical? :DOWN (nth m 0))
                                           (contains? pending (nth m 1)))
                                  m)))
                            left t/timeout-marker)]
        (cond
          (identical? t/timeout-marker m) pending
          (identical? :DOWN (nth m 0)) (recur (dissoc pending (nth m 1)))
          :else (recur pending))))))

(defn- shutdown-dynamic
  "Stop every child at once, as OTP's simple_one_for_one does on the way
  out (in no order): monitor each, send each the exit signal :shutdown (or
  :kill for :brutal-kill), wait for all the :DOWNs within the spec's
  :shutdown ms, then :kill those left and wait for them."
  [state]
  (let [shutdown (:shutdown (:template state))
        pids (keys (:children state))
        pending (persistent! (reduce (fn [m pid] (assoc! m (t/monitor pid) pid)) (transient {}) pids))
        signal (if (= :brutal-kill shutdown) :kill :shutdown)]
    (run! #(t/exit % signal) pids)
    (let [left (await-downs pending (when (number? shutdown) (+ (t/monotonic-ms) (long shutdown))))]
      (when (seq left)
        (run! #(t/exit % :kill) (vals left))
        (await-downs left nil))))
  (assoc state :children {}))

(defn- short-str [x]
  (binding [*print-length* 8 *print-level* 3] (pr-str x)))

;; ---------------------------------------------------------------------------
;; The supervisor as a server

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
        (merge state (dynamic-state spec))
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
                    [[:error (badarg (str "start-child of a " (:strategy state) " supervisor takes a"
                                          " child spec map, got " (short-str arg))
                                     {:key :spec :value arg})]
                     state])
    ::terminate-child (with-child state arg terminate-child*)
    ::restart-child (with-child state arg restart-child*)
    ::delete-child (with-child state arg delete-child*)
    nil))

(defn- dynamic-call [op arg state]
  (case op
    ::which-children [[:ok (dynamic-which-children state)] state]
    ::count-children [[:ok (dynamic-counts state)] state]
    ::start-child (add-dynamic-child state arg)
    ::terminate-child (terminate-dynamic-child state arg)
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
                      [[:error (badarg (str "a supervisor does not understand " (short-str request))
                                       {:request request})]
                       state])]
    [:reply r state]))

(defn- handle-info [msg state]
  (cond
    (sys/system-message? msg) (sys/handle state (nth msg 1) (nth msg 2))

    (and (vector? msg) (= 3 (count msg)) (= :EXIT (msg 0)))
    (if (dynamic? state)
      (dynamic-exited (count-in state) (msg 1) (msg 2))
      (child-exited (count-in state) (msg 1) (msg 2)))

    (and (vector? msg) (= 2 (count msg)) (= ::restart (msg 0)))
    (if (dynamic? state) (dynamic-retry state (msg 1)) (retry state (msg 1)))

    :else (count-in state)))

(defn- terminate [_reason state]
  (if (dynamic? state)
    (shutdown-dynamic state)
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
