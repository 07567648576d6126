(ns ^:no-doc tasklet.impl.supervisor-dynamic
  "A :simple-one-for-one supervisor's children: one template, children
  started on demand with extra args, known by pid, stopped all at once on the
  way out (OTP's simple_one_for_one). Internal to tasklet.supervisor.

  State: :template is the one child spec; :children maps each running
  child's pid to its extra args, :restarting maps a retry key to the extra
  args of a child whose restart failed (retried by a
  [:tasklet.supervisor/restart key] message to self). Invariants: a pid is
  in :children exactly while the supervisor has not yet handled its
  [:EXIT ...]; every lookup is by pid, and count-children is (count map),
  O(1) for a persistent map, so the cost of a child's start, exit or count
  does not grow with the number of children."
  (:require [tasklet.core :as t :refer [! self]]
            [tasklet.impl.error :refer [error]]
            [tasklet.impl.supervisor-children :refer [log shutdown-child try-start]]
            [tasklet.impl.supervisor-restart :refer [restart restart?]]
            [tasklet.impl.supervisor-spec :refer [child]]))

(set! *warn-on-reflection* true)

(defn dynamic-state [spec]
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
        (! (self) [:tasklet.supervisor/restart k])
        (assoc-in state [:restarting k] extra)))))

(defn dynamic-exited [state pid reason]
  (if-let [extra (get (:children state) pid)]
    (let [state (update state :children dissoc pid)
          tpl (:template state)]
      (if (and (not= :temporary (:restart tpl)) (restart? tpl reason))
        (restart state (:id tpl) #(start-dynamic % extra nil))
        state))
    state))

(defn dynamic-retry [state k]
  (if-let [extra (get (:restarting state) k)]
    (restart state (:id (:template state)) #(start-dynamic % extra k))
    state))

(defn- max-children-error [n]
  (ex-info (str "supervisor " (self) " already runs its :max-children " n
                " children; wait for one to end, or raise :max-children")
           {:tasklet/error :max-children :max-children n}))

(defn add-dynamic-child [state extra]
  (let [n (:max-children state)]
    (cond
      (not (or (nil? extra) (sequential? extra)))
      [[:error (error :badarg (str "a :simple-one-for-one supervisor starts a child from a vector of"
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

(defn terminate-dynamic-child [state pid]
  (if (contains? (:children state) pid)
    (do (shutdown-child {:pid pid :shutdown (:shutdown (:template state))})
        [[:ok true] (update state :children dissoc pid)])
    [[:error (ex-info (str "supervisor " (self) " has no child " (pr-str pid)
                           "; a :simple-one-for-one supervisor terminates children by pid")
                      {:tasklet/error :not-found :pid pid})]
     state]))

(defn dynamic-which-children [state]
  (let [{:keys [type restart]} (:template state)
        info (fn [pid] {:id nil :pid pid :type type :restart restart})]
    (-> []
        (into (map info) (keys (:children state)))
        (into (map (fn [_] (info nil))) (:restarting state)))))

(defn dynamic-counts [state]
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

(defn shutdown-dynamic
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
