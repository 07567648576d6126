(ns tasklet.pg
  "OTP's pg (doc/reference.md §7): named process groups that span connected nodes,
  with pg's strong eventual consistency.

    (require '[tasklet.pg :as pg])
    (pg/join :workers (self))          ; the :default scope starts on demand
    (pg/members :workers)              ; => [#tasklet/pid ...], every node's
    (pg/local-members :workers)        ; this node's only
    (let [[ref pids] (pg/monitor :workers)]
      ;; later [ref :join :workers pids] / [ref :leave :workers pids]
      ...)

  Scopes. Groups live in a scope, a keyword: a tasklet.server registered
  under that keyword (pg/start-link scope, or the :default scope, which the
  functions without a scope argument start on demand, unlinked). Scopes are
  independent overlay networks: a scope sees the groups of the same scope on
  every connected node, and no other. Start a scope after node/start! (a
  scope belongs to the node it started on).

  Groups. A group is any value (Nippy-freezable, to span nodes). It exists
  while it has members; which-groups lists only those. Only tasklets of this
  node join or leave here; a pid may join a group several times and then
  has that many memberships (and appears that many times in members), each
  ended by one leave. A member that ends leaves all its groups; members of a
  node that is lost (or whose scope ends) leave too.

  Reads (members, local-members, which-groups) do not go through the scope
  tasklet: the scope publishes its view in a table (an atom per scope and
  node) that readers deref, as OTP's pg reads its ETS table. A view is
  eventually consistent across nodes: joins on two nodes may be seen in
  different orders elsewhere, and a node sees the groups of the nodes it is
  connected to (not transitively).

  Protocol between the scopes of one name (OTP pg's exchange): a scope that
  starts, or hears [:nodeup n] (tasklet.node/monitor-nodes), sends
  [::discover self] to [scope n]; a scope that gets a discover answers with
  [::sync self {group local-pids}], monitors the peer scope and, if it did
  not know it, discovers it back; joins and leaves of local members are
  sent to every known peer as [::join self group pids] and [::leave self pids
  groups]; the :DOWN of a peer scope (its end, or :noconnection) drops all
  its members. A peer counts only while its node is connected (a scope of
  another node in this JVM can reach this one without a connection; it is
  ignored until one is up). A peer's messages are checked (pids must be
  pids); a malformed one is logged, truncated, and dropped."
  (:require [tasklet.core :as t :refer [! self]]
            [tasklet.node :as node]
            [tasklet.server :as server])
  (:import [clojure.lang ExceptionInfo]
           [java.lang System$Logger System$Logger$Level]
           [java.util List]
           [java.util.concurrent ConcurrentHashMap]
           [tasklet.kernel Node NodeTable Pid]))

(set! *warn-on-reflection* true)

;; ---------------------------------------------------------------------------
;; Tables: the published views, read without the scope tasklet

(defonce ^:private tables
  ;; [Node scope] -> {:owner scope-pid :data (atom {group {:all [pids] :local [pids]}})}
  ;; written only by the owner (put in init, removed in terminate); a table
  ;; whose owner is dead (killed, so no terminate ran) reads as empty
  (ConcurrentHashMap.))

(defonce ^:private monitor-scopes
  ;; monitor ref -> scope, so that (demonitor ref) finds the scope
  (ConcurrentHashMap.))

(defn- table-key [scope] [(Node/current) scope])

(defn- view
  "The current view of scope on the caller's node: {group {:all :local}}."
  [scope]
  (let [tb (.get ^ConcurrentHashMap tables (table-key scope))]
    (if (and tb (some-> (NodeTable/resolve (:owner tb)) .isAlive))
      @(:data tb)
      {})))

;; ---------------------------------------------------------------------------
;; Errors and checks

(defn- badarg [message data]
  (ex-info message (assoc data :tasklet/error :badarg)))

(defn- log-warning [^String message]
  (.log ^System$Logger (System/getLogger "tasklet.pg") System$Logger$Level/WARNING message))

(defn- short-str [x]
  (let [s (binding [*print-length* 8 *print-level* 3] (pr-str x))]
    (if (> (count s) 300) (str (subs s 0 300) "...") s)))

(defn- check-scope [scope]
  (when-not (keyword? scope)
    (throw (badarg (str "a pg scope is a keyword (the name its tasklet is registered under), got "
                        (short-str scope))
                   {:scope scope})))
  scope)

(defn- on-node? [^Pid p ^Node n]
  (and (= (.-node p) (.-name n)) (== (.-incarnation p) (.-incarnation n))))

(defn- local-pids
  "pid-or-pids as a vector of pids of the caller's node, or throw :badarg."
  [what pid-or-pids]
  (let [ps (cond (t/pid? pid-or-pids) [pid-or-pids]
                 (and (coll? pid-or-pids) (not (map? pid-or-pids))) (vec pid-or-pids)
                 :else ::bad)
        n (Node/current)]
    (when (= ::bad ps)
      (throw (badarg (str what " takes a pid or a collection of pids, got " (short-str pid-or-pids))
                     {:pids pid-or-pids})))
    (doseq [p ps]
      (when-not (and (t/pid? p) (on-node? p n))
        (throw (badarg (str what " takes pids of this node only (" (.-name n) "), got " (short-str p)
                            "; join on the member's own node")
                       {:pid p}))))
    ps))

(defn- pids? [x]
  (and (vector? x) (every? t/pid? x)))

;; ---------------------------------------------------------------------------
;; Membership as data: {group {:all [pids] :local [pids]}}, multisets as vectors

(defn- remove-one [v x]
  (let [i (.lastIndexOf ^List v x)]
    (if (neg? i) v (into (subvec v 0 i) (subvec v (inc i))))))

(defn- minus
  "Multiset difference a - b of two vectors."
  [a b]
  (reduce remove-one a b))

(defn- add-members [groups g pids local?]
  (if (empty? pids)
    groups
    (let [{:keys [all local] :or {all [] local []}} (get groups g)]
      (assoc groups g {:all (into all pids) :local (if local? (into local pids) local)}))))

(defn- remove-members [groups g pids local?]
  (if-let [{:keys [all local]} (get groups g)]
    (let [all (minus all pids)]
      (if (empty? all)
        (dissoc groups g)
        (assoc groups g {:all all :local (if local? (minus local pids) local)})))
    groups))

;; ---------------------------------------------------------------------------
;; The scope tasklet
;;
;; State: :scope, :table (the published atom), :groups (what it holds),
;; :local {pid {:mref r :groups [g ...]}} (one entry per membership, so a
;; pid that joined g twice lists g twice), :remote {peer-scope-pid {:mref r
;; :groups {g [pids]}}}, :scope-mons {ref watcher}, :group-mons {ref
;; [watcher g]}, :monitored {g {ref watcher}}. Invariant: :groups is the
;; union of :local and of every peer's :groups, and the table holds :groups.

(defn- publish [state]
  (reset! (:table state) (:groups state))
  state)

(defn- notify [state kind g pids]
  (when (seq pids)
    (doseq [[ref w] (:scope-mons state)] (! w [ref kind g pids]))
    (doseq [[ref w] (get (:monitored state) g)] (! w [ref kind g pids])))
  state)

(defn- commit
  "Publish the view, then send the notifications events [[kind g pids] ...],
  so that a subscriber told of a change reads a view that has it."
  [state events]
  (publish state)
  (reduce (fn [st [kind g pids]] (notify st kind g pids)) state events))

(defn- send-quietly [dest msg]
  ;; a peer may be unreachable now; its :DOWN (or nodedown) follows
  (try (! dest msg) (catch ExceptionInfo _ nil)))

(defn- broadcast [state msg]
  (doseq [peer (keys (:remote state))] (send-quietly peer msg)))

(defn- discover [scope n]
  (send-quietly [scope n] [::discover (self)]))

(defn- local-groups [state]
  (into {} (keep (fn [[g {:keys [local]}]] (when (seq local) [g local]))) (:groups state)))

(defn- join-local [state g pids]
  (let [state (reduce (fn [st p]
                        (if (get-in st [:local p])
                          (update-in st [:local p :groups] conj g)
                          (assoc-in st [:local p] {:mref (t/monitor p) :groups [g]})))
                      state pids)
        state (update state :groups add-members g pids true)]
    (broadcast state [::join (self) g pids])
    (commit state [[:join g pids]])))

(defn- leave-local [state g pids]
  (let [[state left]
        (reduce (fn [[st left] p]
                  (let [{:keys [mref groups]} (get-in st [:local p])]
                    (if (some #(= g %) groups)
                      (let [groups (remove-one groups g)]
                        [(if (empty? groups)
                           (do (t/demonitor mref {:flush true}) (update st :local dissoc p))
                           (assoc-in st [:local p :groups] groups))
                         (conj left p)])
                      [st left])))
                [state []] pids)]
    (if (empty? left)
      [:not-joined state]
      (let [state (update state :groups remove-members g left true)]
        (broadcast state [::leave (self) left [g]])
        [:ok (commit state [[:leave g left]])]))))

(defn- watch [state from k v]
  (let [w (:pid from)
        ref (t/monitor w)]
    (.put ^ConcurrentHashMap monitor-scopes ref (:scope state))
    [ref (assoc-in state [k ref] v) w]))

(defn- unwatch [state ref]
  (.remove ^ConcurrentHashMap monitor-scopes ref)
  (if-let [[_ g] (get (:group-mons state) ref)]
    (-> state
        (update :group-mons dissoc ref)
        (update :monitored (fn [m] (let [m2 (update m g dissoc ref)]
                                     (if (empty? (get m2 g)) (dissoc m2 g) m2)))))
    (update state :scope-mons dissoc ref)))

(defn- handle-call [request from state]
  (let [[op a b] request]
    (case op
      ::join [:reply :ok (join-local state a b)]
      ::leave (let [[r state] (leave-local state a b)] [:reply r state])
      ::monitor-scope (let [[ref state] (watch state from :scope-mons (:pid from))]
                        [:reply [ref (into {} (map (fn [[g m]] [g (:all m)])) (:groups state))] state])
      ::monitor (let [[ref state w] (watch state from :group-mons [(:pid from) a])]
                  [:reply [ref (get-in state [:groups a :all] [])]
                   (assoc-in state [:monitored a ref] w)])
      ::demonitor (if (or (contains? (:scope-mons state) a) (contains? (:group-mons state) a))
                    (do (t/demonitor a {:flush true})
                        [:reply true (unwatch state a)])
                    [:reply false state])
      [:reply (badarg (str "a pg scope does not understand " (short-str request)) {:request request})
       state])))

;; --- peers

(defn- peer-known? [state peer]
  (contains? (:remote state) peer))

(defn- connected? [^Pid peer]
  (boolean (some #{(keyword (.-node peer))} (node/nodes))))

(defn- add-peer
  "state knowing peer (monitored), or nil to ignore it: its node is not
  connected. The monitor comes first: a connection seen up after it is
  dropped (and the monitor fired) only later, while a peer of a node
  already lost (an in-JVM node's message can arrive after the :DOWN its
  loss gave) would never be dropped, as OTP ignores a join from an unknown
  peer."
  [state peer]
  (if (peer-known? state peer)
    state
    (let [mref (t/monitor peer)]
      (if (connected? peer)
        (assoc-in state [:remote peer] {:mref mref :groups {}})
        (do (t/demonitor mref {:flush true}) nil)))))

;; A discover can arrive before this node has listed the sender's connection
;; (a node of this JVM delivers to a scope here directly, and its nodeup can
;; come first there): look again every recheck-ms, rechecks times, before
;; ignoring a peer whose node is not connected.
(def ^:private recheck-ms 100)
(def ^:private rechecks 50)

(defn- on-discover
  ([state peer] (on-discover state peer 0))
  ([state peer n]
   (if-let [state' (add-peer state peer)]
     (do (send-quietly peer [::sync (self) (local-groups state')])
         (when-not (peer-known? state peer)
           (send-quietly peer [::discover (self)]))
         state')
     (do (when (< (long n) rechecks)
           (t/send-after recheck-ms (self) [::recheck peer (inc (long n))]))
         state))))

(defn- on-sync* [state peer groups]
  (let [old (get-in state [:remote peer :groups])
        [state events]
        (reduce (fn [[st events] g]
                  (let [was (get old g [])
                        now (get groups g [])
                        gone (minus was now)
                        came (minus now was)]
                    [(-> st
                         (update :groups remove-members g gone false)
                         (update :groups add-members g came false))
                     (conj events [:leave g gone] [:join g came])]))
                [state []] (distinct (concat (keys old) (keys groups))))]
    (commit (assoc-in state [:remote peer :groups] groups) events)))

(defn- on-sync
  "Replace what this scope knew of peer's members by groups, notifying the
  differences."
  [state peer groups]
  (if-let [state (add-peer state peer)]
    (on-sync* state peer groups)
    state))

(defn- on-join [state peer g pids]
  (if (peer-known? state peer)
    (-> state
        (update-in [:remote peer :groups g] (fnil into []) pids)
        (update :groups add-members g pids false)
        (commit [[:join g pids]]))
    state))

(defn- on-leave [state peer pids groups]
  (if (peer-known? state peer)
    (commit (reduce (fn [st g]
                      (let [rg (minus (get-in st [:remote peer :groups g] []) pids)]
                        (-> st
                            (update-in [:remote peer :groups] #(if (empty? rg) (dissoc % g) (assoc % g rg)))
                            (update :groups remove-members g pids false))))
                    state groups)
            (map (fn [g] [:leave g pids]) groups))
    state))

(defn- peer-down [state peer]
  (let [gs (get-in state [:remote peer :groups])
        state (update state :remote dissoc peer)]
    (commit (reduce (fn [st [g pids]] (update st :groups remove-members g pids false)) state gs)
            (map (fn [[g pids]] [:leave g pids]) gs))))

(defn- member-down [state pid]
  (let [groups (get-in state [:local pid :groups])
        state (update state :local dissoc pid)
        state (reduce (fn [st g] (update st :groups remove-members g [pid] true)) state groups)]
    (broadcast state [::leave (self) [pid] groups])
    (commit state (map (fn [g] [:leave g [pid]]) groups))))

(defn- on-down [state ref pid]
  (cond
    (or (contains? (:scope-mons state) ref) (contains? (:group-mons state) ref)) (unwatch state ref)
    (= ref (get-in state [:local pid :mref])) (member-down state pid)
    (= ref (get-in state [:remote pid :mref])) (peer-down state pid)
    :else state))

(defn- malformed [state msg]
  (log-warning (str "pg scope " (:scope state) " dropped a malformed message " (short-str msg)))
  state)

(defn- tagged? [m tag n]
  (and (vector? m) (== n (count m)) (identical? tag (nth m 0))))

(defn- handle-info [msg state]
  (cond
    (tagged? msg :DOWN 5) (on-down state (nth msg 1) (nth msg 3))
    (tagged? msg :nodeup 2) (do (discover (:scope state) (nth msg 1)) state)
    (tagged? msg :nodedown 2) state     ; the peer scope's :DOWN does the work

    (tagged? msg ::discover 2)
    (let [[_ peer] msg]
      (if (t/pid? peer) (on-discover state peer) (malformed state msg)))

    (tagged? msg ::recheck 3)
    (let [[_ peer n] msg]
      (if (and (t/pid? peer) (int? n)) (on-discover state peer n) (malformed state msg)))

    (tagged? msg ::sync 3)
    (let [[_ peer groups] msg]
      (if (and (t/pid? peer) (map? groups) (every? pids? (vals groups)))
        (on-sync state peer groups)
        (malformed state msg)))

    (tagged? msg ::join 4)
    (let [[_ peer g pids] msg]
      (if (and (t/pid? peer) (pids? pids)) (on-join state peer g pids) (malformed state msg)))

    (tagged? msg ::leave 4)
    (let [[_ peer pids groups] msg]
      (if (and (t/pid? peer) (pids? pids) (vector? groups)) (on-leave state peer pids groups) (malformed state msg)))

    :else (malformed state msg)))

(defn- init [scope]
  (let [data (atom {})]
    (.put ^ConcurrentHashMap tables (table-key scope) {:owner (self) :data data})
    (when (node/monitor-nodes true)
      (run! #(discover scope %) (node/nodes)))
    {:scope scope :table data :groups {} :local {} :remote {}
     :scope-mons {} :group-mons {} :monitored {}}))

(defn- terminate [_reason state]
  (let [k (table-key (:scope state))
        tb (.get ^ConcurrentHashMap tables k)]
    (when (= (self) (:owner tb))
      (.remove ^ConcurrentHashMap tables k tb)))
  (doseq [ref (concat (keys (:scope-mons state)) (keys (:group-mons state)))]
    (.remove ^ConcurrentHashMap monitor-scopes ref))
  (node/monitor-nodes false))

(def ^:private impl
  {:init init :handle-call handle-call :handle-info handle-info :terminate terminate})

;; ---------------------------------------------------------------------------
;; Public API

(def default-scope
  "The scope of the functions without a scope argument; started on demand
  (unlinked) by the ones that write or monitor."
  :default)

(defn start-link
  "Start scope (a keyword) on this node, linked to the caller, registered
  under scope, and return its pid. It discovers the same scope on every
  connected node and on each node that connects later. Throws ex-info
  {:tasklet/error :badarg} when scope is not a keyword or the name is taken.
  The memberships of this node are not kept when a scope ends (as in OTP)."
  [scope]
  (server/start-link impl (check-scope scope) {:name scope}))

(defn start
  "As start-link, unlinked (OTP's pg:start)."
  [scope]
  (server/start impl (check-scope scope) {:name scope}))

(defn- default! []
  (when-not (t/whereis default-scope)
    (try (start default-scope)
         (catch ExceptionInfo e
           ;; another caller started it meanwhile
           (when-not (t/whereis default-scope) (throw e)))))
  default-scope)

(defn- scope-call [scope request]
  (server/call scope request :infinity))

(defn join
  "Make pid-or-pids (one pid, or a collection of pids of this node, possibly
  repeated) members of group in scope (default: :default), one membership
  each. The group exists from then on. Returns :ok. Throws ex-info
  {:tasklet/error :badarg} for a pid of another node (join it there), and
  :noproc when the scope is not running."
  ([group pid-or-pids] (join (default!) group pid-or-pids))
  ([scope group pid-or-pids]
   (scope-call (check-scope scope) [::join group (local-pids "pg/join" pid-or-pids)])))

(defn leave
  "End one membership of group in scope for each of pid-or-pids (pids of this
  node). Returns :ok, or :not-joined when none of them was a member."
  ([group pid-or-pids] (leave (default!) group pid-or-pids))
  ([scope group pid-or-pids]
   (scope-call (check-scope scope) [::leave group (local-pids "pg/leave" pid-or-pids)])))

(defn members
  "The members of group in scope on every connected node, a vector in no
  particular order (a pid once per membership); [] for no group. Read
  without a call to the scope tasklet."
  ([group] (members default-scope group))
  ([scope group] (get-in (view scope) [group :all] [])))

(defn local-members
  "The members of group in scope that run on this node (as `members`)."
  ([group] (local-members default-scope group))
  ([scope group] (get-in (view scope) [group :local] [])))

(defn which-groups
  "The groups of scope that have members, on any connected node."
  ([] (which-groups default-scope))
  ([scope] (vec (keys (view scope)))))

(defn monitor
  "Subscribe the caller to group's changes in scope: returns [ref pids], pids
  being the members now; then the caller gets [ref :join group pids] when
  pids join and [ref :leave group pids] when they leave (leave, end, node
  lost), until (demonitor ref) or its own end."
  ([group] (monitor (default!) group))
  ([scope group] (scope-call (check-scope scope) [::monitor group])))

(defn monitor-scope
  "Subscribe the caller to every group's changes in scope: returns [ref
  {group pids}] (the groups now), then the messages of `monitor` for every
  group."
  ([] (monitor-scope (default!)))
  ([scope] (scope-call (check-scope scope) [::monitor-scope])))

(defn demonitor
  "End the subscription ref (from monitor or monitor-scope; the ref knows its
  scope) and drop its messages already in the caller's mailbox. Returns
  true, or false when ref was not an active subscription."
  [ref]
  (if-let [scope (.get ^ConcurrentHashMap monitor-scopes ref)]
    (let [r (scope-call scope [::demonitor ref])]
      (loop []
        (when (t/receive-fn (fn [m] (when (and (vector? m) (== 4 (count m)) (= ref (nth m 0))) m))
                            0 nil)
          (recur)))
      r)
    false))
