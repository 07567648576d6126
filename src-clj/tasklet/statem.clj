(ns tasklet.statem
  "OTP's gen_statem for tasklets (doc/reference.md §7), in its handle_event_function
  mode: one handler function gets every event with the current state and
  data, and returns what happens next.

    (def door
      {:init (fn [code] [:ok :locked {:code code}])
       :handle-event
       (fn [type content state data]
         (cond
           (and (vector? type) (= :call (first type)))     ; [:call from]
           (let [from (second type)]
             (case [state content]
               [:locked :open] [:keep-state-and-data [[:reply from :locked]]]
               [:open :open]   [:keep-state-and-data [[:reply from :already-open]]]))
           (and (= :cast type) (= (:code data) content))
           [:next-state :open data [[:state-timeout 1000 :lock]]]
           (= :state-timeout type) [:next-state :locked data]
           :else :keep-state-and-data))})
    (def d (start-link door 1234))
    (cast d 1234)      ; unlocks; locks itself again after 1 s in :open
    (call d :open)     ; => :already-open

  Built on tasklet.core and tasklet.server alone, as OTP builds gen_statem
  on proc_lib: calls and casts are the server's messages, so `call` and
  `cast` are tasklet.server's (same errors, same timeouts), and a reply is
  tasklet.server/reply.

  The rules are OTP's:
  - Events are taken in this order: events inserted by :next-event actions
    (first action first), then postponed events that a state change put back,
    then zero-time timeouts, then expired timeouts, then the mailbox. A
    :postpone action keeps the current event aside until the state changes
    (by =), when all postponed events go back, oldest first, ahead of the
    rest of the queue.
  - Timeouts: [:timeout ms content] (the event timeout) is cancelled by any
    event; [:state-timeout ms content] by a change of state; a generic
    [:timeout name ms content] only by a new one of that name (or ms
    :infinity). Setting one again restarts it; the last of a kind in one
    transition wins; ms :infinity cancels it (so does :cancel in place of ms
    and content). A timeout of 0 ms is delivered before any message from the
    mailbox, after the events already queued; an event timeout of 0 only when
    nothing is queued, since the next event cancels it. Time is the node's
    clock (tasklet.core/monotonic-ms): virtual under tasklet.test. An expired
    timeout is taken before messages already waiting in the mailbox (where
    OTP's timer message would queue behind those that came before it).
  - State enter calls (impl :state-enter? true): after each transition to a
    different state (and after :repeat-state, and for the initial state) the
    handler is called as (handle-event :enter old-state state data). It may
    keep or repeat the state, reply, set timeouts or stop; it may not change
    the state, postpone or insert events (that ends the machine with
    :bad-return or :bad-action).

  System messages (OTP's sys): a message [:tasklet/system from request],
  answered with (tasklet.server/reply from answer), between events:
  - :get-state           [:ok [state data]]
  - [:replace-state f]   (f [state data]) is the new [state data]: [:ok new];
                         if f throws (or returns no pair), [:error e] and the
                         state is kept. No enter call, no timeout change.
  - :suspend / :resume   [:ok :ok]; while suspended only system messages (and
                         the parent's exit) are taken: events, timeouts and
                         other messages wait
  - :statistics          [:ok {:start-ms t0 :now-ms t :messages-in n}], n
                         being the calls, casts and infos taken so far
  - anything else        [:error ex-info {:tasklet/error :badarg}]

  Message shapes (internal): [:tasklet/call from request] and
  [:tasklet/cast message] as tasklet.server's; [:tasklet/system from request]."
  (:refer-clojure :exclude [cast])
  (:require [tasklet.core :as t :refer [self]]
            [tasklet.impl.error :refer [error check-start-opts function?]]
            [tasklet.impl.process :as process]
            [tasklet.impl.start :as start]
            [tasklet.server :as server])
  (:import [clojure.lang ExceptionInfo]))

(set! *warn-on-reflection* true)

;; ---------------------------------------------------------------------------
;; Errors

(defn- bad-return [what value expected]
  (error :bad-return (str what " must return " expected ", got " (pr-str value))
         {:value value}))

(defn- bad-action [action why]
  (error :bad-action (str "bad statem action " (pr-str action) ": " why) {:action action}))

;; ---------------------------------------------------------------------------
;; The start handshake: tasklet.server's (tasklet.impl.start), so that
;; start-sync and supervisors wait for :init as they do for a server

(defn- fail-start!
  "init failed with e (a Throwable, the exception start throws): free the
  name, unlink the starter (start throws instead of killing it), tell it,
  then end with reason."
  [starter name e reason]
  (start/init-failed! starter name e)
  (if (instance? Throwable reason)
    (throw ^Throwable reason)
    (t/exit reason)))

;; ---------------------------------------------------------------------------
;; The machine

;; state data   the user's
;; queue        events to handle before the mailbox, next first: [type content]
;; postponed    postponed events, oldest first
;; timers       {key {:at ms-or-:zero :content c :seq n}}, key being the event
;;              type it fires as: :timeout, :state-timeout or [:timeout name]
;; t0q          keys of zero-time timers, in the order they were set
;; seq          counter that orders timers set for the same ms
;; parent       the linked starter, whose exit stops the machine, or nil
;; suspended?   sys suspend
;; start-ms messages-in   for :statistics
(defrecord ^:private Machine [state data queue postponed timers t0q seq parent suspended? start-ms messages-in])

(deftype ^:private Stop [reason state data replies])

(defn- cancel-timer [m k]
  (if (contains? (:timers m) k)
    (-> m (update :timers dissoc k) (update :t0q (fn [q] (filterv #(not= k %) q))))
    m))

(defn- winners
  "The last timeout action of each kind, in the order of those last ones."
  [timeouts]
  (reduce (fn [acc tm] (conj (filterv #(not= (first tm) (first %)) acc) tm)) [] timeouts))

(defn- start-timeouts [m timeouts]
  (let [now (t/monotonic-ms)]
    (reduce (fn [m [k ms content]]
              (let [m (cancel-timer m k)
                    n (:seq m)]
                (cond
                  (= :infinity ms) m
                  (zero? ms) (-> m
                                 (assoc-in [:timers k] {:at :zero :content content :seq n})
                                 (update :t0q conj k)
                                 (assoc :seq (inc n)))
                  :else (-> m
                            (assoc-in [:timers k] {:at (+ now ms) :content content :seq n})
                            (assoc :seq (inc n))))))
            m
            (winners timeouts))))

(defn- earliest-timer
  "[key timer] of the running timer that expires first, or nil."
  [m]
  (reduce (fn [best [k tm :as e]]
            (if (and (number? (:at tm))
                     (or (nil? best)
                         (let [b (second best)]
                           (or (< (double (:at tm)) (double (:at b)))
                               (and (== (double (:at tm)) (double (:at b))) (< (long (:seq tm)) (long (:seq b))))))))
              e
              best))
          nil
          (:timers m)))

;; ---------------------------------------------------------------------------
;; Results and actions

(def ^:private results
  "[:next-state s d actions?] [:keep-state d actions?] [:keep-state-and-data actions?]
  [:repeat-state d actions?] [:repeat-state-and-data actions?] [:stop reason data?]
  [:stop-and-reply reason replies data?]")

(defn- ms? [x]
  (or (= :infinity x) (and (number? x) (not (neg? (double x))))))

(defn- event-type? [x]
  (or (contains? #{:cast :info :internal :timeout :state-timeout} x)
      (and (vector? x) (= 2 (count x))
           (or (and (= :call (nth x 0)) (map? (nth x 1)) (t/pid? (:pid (nth x 1))))
               (= :timeout (nth x 0))))))

(defn- parse-result
  "What a handler's result r means in state/data: {:state :data :actions
  :enter?} or a Stop. In an enter call (state-call? false) the state cannot
  change."
  [r state data state-call?]
  (let [v (if (keyword? r) [r] r)
        n (if (vector? v) (count v) -1)
        k (when (pos? n) (nth v 0))
        ok (fn [s d actions enter?] {:state s :data d :actions actions :enter? enter?})
        bad #(throw (bad-return (if state-call? "handle-event" "a state enter call (handle-event :enter ...)")
                                r results))]
    (case k
      :next-state (if (<= 3 n 4)
                    (let [s (nth v 1)]
                      (cond
                        (= s state) (ok s (nth v 2) (nth v 3 nil) false)
                        state-call? (ok s (nth v 2) (nth v 3 nil) true)
                        :else (throw (error :bad-return (str "a state enter call cannot change the state (from "
                                                             (pr-str state) " to " (pr-str s)
                                                             "); change it from the event that follows")
                                            {:value r}))))
                    (bad))
      :keep-state (if (<= 2 n 3) (ok state (nth v 1) (nth v 2 nil) false) (bad))
      :keep-state-and-data (if (<= 1 n 2) (ok state data (nth v 1 nil) false) (bad))
      :repeat-state (if (<= 2 n 3) (ok state (nth v 1) (nth v 2 nil) true) (bad))
      :repeat-state-and-data (if (<= 1 n 2) (ok state data (nth v 1 nil) true) (bad))
      :stop (cond
              (== 1 n) (Stop. :normal state data nil)
              (== 2 n) (Stop. (nth v 1) state data nil)
              (== 3 n) (Stop. (nth v 1) state (nth v 2) nil)
              :else (bad))
      :stop-and-reply (if (<= 3 n 4)
                        (let [replies (nth v 2)]
                          (when-not (and (sequential? replies)
                                         (every? #(and (vector? %) (= 3 (count %)) (= :reply (nth % 0)) (map? (nth % 1)))
                                                 replies))
                            (throw (error :bad-return (str ":stop-and-reply takes a vector of [:reply from r], got "
                                                           (pr-str replies))
                                          {:value r})))
                          (Stop. (nth v 1) state (if (= 4 n) (nth v 3) data) replies))
                        (bad))
      (bad))))

(def ^:private no-actions {:postpone false :next-events [] :timeouts []})

(defn- timeout-action
  "[key ms content] of a timeout action, or nil when a is none."
  [a]
  (when (vector? a)
    (let [n (count a) k (nth a 0 nil)]
      (cond
        (and (= :state-timeout k) (= 3 n) (ms? (nth a 1))) [:state-timeout (nth a 1) (nth a 2)]
        (and (= :state-timeout k) (= 2 n) (= :cancel (nth a 1))) [:state-timeout :infinity nil]
        (and (= :timeout k) (= 3 n) (ms? (nth a 1))) [:timeout (nth a 1) (nth a 2)]
        (and (= :timeout k) (= 2 n) (= :cancel (nth a 1))) [:timeout :infinity nil]
        (and (= :timeout k) (= 4 n) (ms? (nth a 2))) [[:timeout (nth a 1)] (nth a 2) (nth a 3)]
        (and (= :timeout k) (= 3 n) (= :cancel (nth a 2))) [[:timeout (nth a 1)] :infinity nil]))))

(defn- run-actions
  "Act on actions in order (replies are sent at once) and fold the rest into
  acc: {:postpone bool :next-events [...] :timeouts [[key ms content] ...]}."
  [actions state-call? acc]
  (when-not (or (nil? actions) (sequential? actions))
    (throw (error :bad-action (str "actions are a vector of actions, like [[:reply from r]], got "
                                   (pr-str actions))
                  {:actions actions})))
  (reduce
    (fn [acc a]
      (cond
        (and (vector? a) (= :reply (nth a 0 nil)))
        (if (and (= 3 (count a)) (map? (nth a 1)))
          (do (server/reply (nth a 1) (nth a 2)) acc)
          (throw (bad-action a "a reply is [:reply from value], from being the call's [:call from]")))

        (or (= :postpone a) (and (vector? a) (= :postpone (nth a 0 nil))))
        (let [on (if (vector? a) (boolean (nth a 1 true)) true)]
          (when (and on (not state-call?))
            (throw (bad-action a "a state enter call cannot postpone (there is no event to postpone)")))
          (assoc acc :postpone on))

        (and (vector? a) (= :next-event (nth a 0 nil)))
        (do (when-not (and (= 3 (count a)) (event-type? (nth a 1)))
              (throw (bad-action a "a next event is [:next-event type content], type being an event type")))
            (when-not state-call?
              (throw (bad-action a "a state enter call cannot insert events")))
            (update acc :next-events conj [(nth a 1) (nth a 2)]))

        :else
        (if-let [tm (timeout-action a)]
          (update acc :timeouts conj tm)
          (throw (bad-action a (str "not an action; actions are [:reply from r], :postpone, [:next-event type content],"
                                    " [:state-timeout ms content], [:timeout ms content] and [:timeout name ms content]"
                                    " (ms: a non-negative number or :infinity)"))))))
    acc
    actions))

;; ---------------------------------------------------------------------------
;; Transitions

(defn- commit
  "The machine after a transition from m's state to p (the parsed result),
  caused by event (nil for the initial state), with the actions in acc."
  [m event p acc]
  (let [changed? (not= (:state m) (:state p))
        postponed (if (and event (:postpone acc)) (conj (:postponed m) event) (:postponed m))
        m (assoc m :state (:state p) :data (:data p))
        m (if changed?
            (-> m
                (assoc :queue (into postponed (:queue m)) :postponed [])
                (cancel-timer :state-timeout)
                (cancel-timer :timeout))
            (-> m (assoc :postponed postponed) (cancel-timer :timeout)))
        m (start-timeouts m (:timeouts acc))]
    (update m :queue #(into (:next-events acc) %))))

(defn- own-exit
  "A handler threw exit exception e (tasklet.impl.process/exit?): when the handler called (exit reason) itself,
  a Stop that runs :terminate (OTP catches exits from callbacks); when an exit
  signal ended the machine while the handler ran, e again (a receive of
  nothing acts on a pending signal first), which ends it without :terminate."
  [e state data]
  (t/receive-fn (constantly nil) 0 nil)
  (Stop. (process/exit-reason e) state data nil))

(defn- advance
  "Act on parsed result p of handling event in m: actions, state enter calls,
  then the transition. Returns the new machine or a Stop."
  [impl m event p seen]
  (loop [p p
         acc (run-actions (:actions p) true no-actions)]
    (if (and (:enter? p) (:state-enter? impl))
      (let [q (parse-result ((:handle-event impl) :enter (:state m) (:state p) (:data p))
                            (:state p) (:data p) false)]
        (if (instance? Stop q)
          q
          (do (vreset! seen [(:state q) (:data q)])
              (recur q (run-actions (:actions q) false acc)))))
      (commit m event p acc))))

(defn- guarded
  "(f seen) where seen is a volatile of the latest [state data]; a Throwable
  or the handler's own exit becomes a Stop with that state and data."
  [m f]
  (let [seen (volatile! [(:state m) (:data m)])]
    (try
      (f seen)
      (catch Throwable e
        (let [[s d] @seen]
          (if (process/exit? e) (own-exit e s d) (Stop. e s d nil)))))))

(defn- dispatch
  "Handle event [type content] in m: the new machine, or a Stop."
  [impl m event]
  (guarded m (fn [seen]
               (let [[type content] event
                     p (parse-result ((:handle-event impl) type content (:state m) (:data m))
                                     (:state m) (:data m) true)]
                 (if (instance? Stop p)
                   p
                   (do (vreset! seen [(:state p) (:data p)])
                       (advance impl m event p seen)))))))

;; ---------------------------------------------------------------------------
;; System messages

(defn- system-from? [from]
  (and (map? from) (t/pid? (:pid from))))

(defn- replace-state [m f from]
  (let [r (try
            (let [v (f [(:state m) (:data m)])]
              (if (and (vector? v) (= 2 (count v)))
                [:ok v]
                [:error (error :badarg (str "replace-state's function must return [state data], got " (pr-str v))
                               {:value v})]))
            (catch Throwable e
              (if (process/exit? e) (throw e) [:error e])))]
    (server/reply from r)
    (if (= :ok (nth r 0))
      (assoc m :state (nth (nth r 1) 0) :data (nth (nth r 1) 1))
      m)))

(defn- handle-system [m from request]
  (cond
    (= :get-state request) (do (server/reply from [:ok [(:state m) (:data m)]]) m)
    (and (vector? request) (= 2 (count request)) (= :replace-state (nth request 0)) (function? (nth request 1)))
    (replace-state m (nth request 1) from)
    (= :suspend request) (do (server/reply from [:ok :ok]) (assoc m :suspended? true))
    (= :resume request) (do (server/reply from [:ok :ok]) (assoc m :suspended? false))
    (= :statistics request)
    (do (server/reply from [:ok {:start-ms (:start-ms m) :now-ms (t/monotonic-ms) :messages-in (:messages-in m)}])
        m)
    :else
    (do (server/reply from [:error (error :badarg (str "unknown system request " (pr-str request)
                                                      "; a statem answers :get-state, [:replace-state f],"
                                                      " :suspend, :resume and :statistics")
                                          {:request request})])
        m)))

;; ---------------------------------------------------------------------------
;; The loop

(def ^:private no-message (Object.))

(defn- any-message [msg]
  (if (nil? msg) no-message msg))

(defn- tagged? [msg tag n]
  (and (vector? msg) (== n (count msg)) (identical? tag (nth msg 0))))

(defn- on-message
  "Act on a message taken from the mailbox: the new machine or a Stop."
  [impl m msg]
  (cond
    (and (tagged? msg :tasklet/system 3) (system-from? (nth msg 1)))
    (handle-system m (nth msg 1) (nth msg 2))

    (and (:parent m) (tagged? msg :EXIT 3) (= (:parent m) (nth msg 1)))
    (Stop. (nth msg 2) (:state m) (:data m) nil)

    :else
    (let [event (cond
                  (and (tagged? msg :tasklet/call 3) (system-from? (nth msg 1))) [[:call (nth msg 1)] (nth msg 2)]
                  (tagged? msg :tasklet/cast 2) [:cast (nth msg 1)]
                  :else [:info (if (identical? no-message msg) nil msg)])]
      (dispatch impl (update m :messages-in inc) event))))

(defn- system-only [parent]
  (fn [msg]
    (when (or (and (tagged? msg :tasklet/system 3) (system-from? (nth msg 1)))
              (and parent (tagged? msg :EXIT 3) (= parent (nth msg 1))))
      msg)))

(defn- step
  "Take the next event (see the ns docstring for the order) and handle it."
  [impl m]
  (cond
    (:suspended? m)
    (on-message impl m (t/receive-fn (system-only (:parent m))))

    (seq (:queue m))
    (let [q (:queue m)]
      (dispatch impl (assoc m :queue (subvec q 1)) (nth q 0)))

    (seq (:t0q m))
    (let [k (nth (:t0q m) 0)]
      (dispatch impl (cancel-timer m k) [k (get-in m [:timers k :content])]))

    :else
    (let [[k tm] (earliest-timer m)
          now (t/monotonic-ms)]
      (if (and k (>= now (double (:at tm))))
        (dispatch impl (cancel-timer m k) [k (:content tm)])
        (let [msg (t/receive-fn any-message (when k (- (double (:at tm)) now)) t/timeout-marker)]
          (if (identical? t/timeout-marker msg)
            m
            (on-message impl m msg)))))))

(defn- finish
  "Stop: the replies of :stop-and-reply, then :terminate, then exit with the
  reason (a :terminate that throws ends the machine with its exception)."
  [impl ^Stop s]
  (doseq [[_ from r] (.-replies s)] (server/reply from r))
  (when-let [f (:terminate impl)]
    (f (.-reason s) (.-state s) (.-data s)))
  (let [reason (.-reason s)]
    (if (instance? Throwable reason)
      (throw ^Throwable reason)
      (t/exit reason))))

(defn- serve [impl m]
  (loop [m m]
    (let [r (step impl m)]
      (if (instance? Stop r)
        (finish impl r)
        (recur r)))))

(def ^:private init-returns "[:ok state data], [:ok state data actions] or [:stop reason]")

(defn- init-machine
  "Run :init; the [state data actions] it chose, or (on a failed start) throws
  after telling the starter."
  [impl arg opts starter]
  (let [name (:name opts)
        r (try
            (when name (t/register name (self)))
            ((:init impl) arg)
            (catch Throwable e
              (if (process/exit? e)
                (let [reason (process/exit-reason e)]
                  (fail-start! starter name
                               (error :exit (str "statem :init exited with reason " (pr-str reason))
                                      {:reason reason})
                               reason))
                (fail-start! starter name e e))))]
    (cond
      (and (vector? r) (<= 3 (count r) 4) (= :ok (nth r 0))) [(nth r 1) (nth r 2) (nth r 3 nil)]
      (and (vector? r) (= 2 (count r)) (= :stop (nth r 0)))
      (let [reason (nth r 1)]
        (fail-start! starter name
                     (ex-info (str "statem :init returned [:stop " (pr-str reason) "]")
                              {:tasklet/error :exit :reason reason}
                              (when (instance? Throwable reason) reason))
                     reason))
      :else (let [e (bad-return ":init" r init-returns)] (fail-start! starter name e e)))))

(defn- run* [impl arg opts]
  (let [starter (start/claim-starter)
        parent (start/starter-parent starter)
        [state data actions] (init-machine impl arg opts starter)
        m (->Machine state data [] [] {} [] 0 parent false (t/monotonic-ms) 0)]
    (start/ack! starter :ok)
    (let [r (guarded m #(advance impl m nil {:state state :data data :actions actions :enter? true} %))]
      (if (instance? Stop r)
        (finish impl r)
        (serve impl r)))))

(defn run
  "Become a state machine: run (:init impl) on arg in the calling tasklet,
  then handle events until the handler stops it. This is the function a
  supervisor child names, [statem/run impl arg] or [statem/run impl arg
  {:name kw}]; the supervisor starts the next child only once :init has
  returned. `start` and `start-link` are spawn and spawn-link of it.

  impl is a map:
  - :init          (fn [arg] [:ok state data] | [:ok state data actions]
                              | [:stop reason])                  required
  - :handle-event  (fn [event-type content state data] result)  required
  - :state-enter?  true to get (handle-event :enter old-state state data)
                   on entering a state (see the ns docstring)
  - :terminate     (fn [reason state data] _)  on the way out

  Event types: [:call from] (answer with the action [:reply from r], or
  later with tasklet.server/reply), :cast, :info (any other message),
  :state-timeout, :timeout, [:timeout name], :internal (from :next-event),
  :enter.

  Results (a bare keyword stands for a vector of one):
    [:next-state state data actions?]   to state (the same state: as keep)
    [:keep-state data actions?]         [:keep-state-and-data actions?]
    [:repeat-state data actions?]       [:repeat-state-and-data actions?]
                                        keep the state, but run its enter call again
    [:stop reason] [:stop reason data]  :terminate, then exit with reason
    [:stop-and-reply reason replies] [:stop-and-reply reason replies data]
                                        send replies ([:reply from r] ...) first
  Actions (a vector of them, in order):
    [:reply from r]  :postpone  [:next-event type content]
    [:state-timeout ms content]  [:timeout ms content]  [:timeout name ms content]

  A handler that throws, calls (tasklet.core/exit reason) or returns
  something else (ex-info {:tasklet/error :bad-return} or :bad-action) ends
  the machine: :terminate runs with that reason (and the state and data it
  last had), then the machine exits with it; a pending call gets the exit
  (as tasklet.server/call reports it). An exit signal from elsewhere ends it
  without :terminate, unless it traps exits: then it is an :info event, but
  the parent's (the linked starter's or supervisor's) stops the machine with
  its reason after :terminate, as in OTP.

  Options: {:name kw} registers the machine before :init runs. :init that
  throws or returns [:stop reason] makes start throw (the reason is
  ex-info {:tasklet/error :exit, :reason reason})."
  ([impl arg] (run* impl arg nil))
  ([impl arg opts] (run* impl arg opts)))

(start/acking! run)

;; ---------------------------------------------------------------------------
;; Starting, calling

(defn- check-impl [impl]
  (when-not (map? impl)
    (throw (error :badarg (str "a statem implementation is a map with :init and :handle-event, got "
                               (pr-str impl))
                  {:impl impl})))
  (doseq [k [:init :handle-event]]
    (when-not (function? (get impl k))
      (throw (error :badarg (str "a statem implementation needs " k " (a function), got " (pr-str (get impl k)))
                    {:key k :value (get impl k)}))))
  (when-let [f (:terminate impl)]
    (when-not (function? f)
      (throw (error :badarg (str "statem implementation key :terminate must be a function, got " (pr-str f))
                    {:key :terminate :value f})))))

(defn start
  "Start a state machine (see `run` for impl) unlinked and return its pid once
  :init has returned (before the initial state's enter call and actions
  run). Throws what :init threw, ex-info {:tasklet/error :exit, :reason r}
  when it returned [:stop r], {:tasklet/error :bad-return} for another
  value, or {:tasklet/error :badarg} for a malformed impl or options or a
  name already taken. Options: {:name kw}."
  ([impl arg] (start impl arg nil))
  ([impl arg opts]
   (check-impl impl)
   (check-start-opts "statem" ":my-machine" opts)
   (start/start-sync #'run [impl arg opts] false)))

(defn start-link
  "As `start`, and link the caller to the machine (atomically, before :init
  runs); if :init fails, the machine unlinks first, so the caller gets the
  exception, not an exit signal."
  ([impl arg] (start-link impl arg nil))
  ([impl arg opts]
   (check-impl impl)
   (check-start-opts "statem" ":my-machine" opts)
   (start/start-sync #'run [impl arg opts] true)))

(defn call
  "Send request to the machine dest (a pid, a registered name or [name node])
  as the event [:call from], and wait for the reply (timeout-ms: default
  5000; nil or :infinity waits for ever). This is tasklet.server/call: it
  throws as that does ({:tasklet/error :timeout}, :noproc, :exit with the
  reason when the machine ends first), and a late reply never lands."
  ([dest request] (server/call dest request))
  ([dest request timeout-ms] (server/call dest request timeout-ms)))

(defn cast
  "Send message to the machine dest as the event :cast; returns nil at once
  and never fails (tasklet.server/cast)."
  [dest message]
  (server/cast dest message))

(defn reply
  "Answer the call from ([:call from]'s from) with value, now or later, from
  any tasklet: tasklet.server/reply. Returns false when the caller no longer
  waits."
  [from value]
  (server/reply from value))
