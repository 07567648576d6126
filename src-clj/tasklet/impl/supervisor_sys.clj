(ns ^:no-doc tasklet.impl.supervisor-sys
  "The sys protocol (OTP's sys module) as tasklet.supervisor answers it, from
  its :handle-info: a message [:tasklet/system from request] is answered
  with tasklet.server/reply (see tasklet.supervisor's ns doc for the
  requests and answers).

  The supervisor's state map holds, besides its own keys, ::sys {:start-ms
  :messages-in :parent}: made by `init`, counted by `count-in`, and never
  shown by :get-state or given to :replace-state's function."
  (:require [tasklet.core :as t :refer [self]]
            [tasklet.impl.process :as process]
            [tasklet.impl.start :as start]
            [tasklet.server :as server]))

(set! *warn-on-reflection* true)

(defn- parent
  "The tasklet that start-linked the caller (the starter of
  tasklet.impl.start/start-sync, still linked), or nil. The binding is the spawner's, so
  it is stale unless the link exists."
  []
  (let [p (start/starter-parent start/*starter*)]
    (when (and p (some #{p} (:links (t/process-info (self)))))
      p)))

(defn init
  "The ::sys entry of a new supervisor state. Call it first in :init, before
  any child starts (they would show among the links)."
  []
  {:start-ms (t/monotonic-ms) :messages-in 0 :parent (parent)})

(defn count-in
  "state with one more message counted (a call or any other non-system message)."
  [state]
  (update state ::sys update :messages-in inc))

(defn- badarg [message data]
  (ex-info message (assoc data :tasklet/error :badarg)))

(defn- short-str [x]
  (binding [*print-length* 8 *print-level* 3] (pr-str x)))

(defn- plain [state]
  (dissoc state ::sys))

(defn- replace-state [state f]
  (try
    (let [new (f (plain state))]
      (if (and (map? new) (= (:strategy new) (:strategy state)))
        [[:ok new] (assoc new ::sys (::sys state))]
        [[:error (badarg (str "replace-state: the function must return the supervisor's state map with"
                              " its :strategy " (:strategy state) " unchanged, got " (short-str new))
                         {:key :state})]
         state]))
    (catch Throwable e
      (if (process/exit? e) (throw e) [[:error e] state]))))

(defn- reply
  "Answer one system request; returns the state (changed by :replace-state)."
  [state from request]
  (let [[r state] (cond
                    (#{:get-state} request) [[:ok (plain state)] state]
                    (#{:suspend :resume} request) [[:ok :ok] state]
                    (#{:statistics} request)
                    [[:ok (-> (::sys state) (dissoc :parent) (assoc :now-ms (t/monotonic-ms)))] state]
                    (and (vector? request) (= 2 (count request)) (= :replace-state (nth request 0)))
                    (replace-state state (nth request 1))
                    :else
                    [[:error (badarg (str "a supervisor does not understand the system request "
                                          (short-str request)
                                          "; use :get-state [:replace-state f] :suspend :resume :statistics")
                                     {:request request})]
                     state])]
    (server/reply from r)
    state))

(defn system-message?
  "True for a well-formed [:tasklet/system from request] (from a map with a
  :pid, as tasklet.server/reply needs)."
  [m]
  (and (vector? m) (== 3 (count m)) (identical? :tasklet/system (nth m 0))
       (map? (nth m 1)) (t/pid? (:pid (nth m 1)))))

(defn- suspended
  "Until :resume, take only system messages and the parent's exit signal
  (which stops the supervisor, as sys does); calls and children's exits stay
  queued, in order."
  [state]
  (let [parent (:parent (::sys state))]
    (loop [state state]
      (let [m (t/receive-fn (fn [m]
                              (when (or (system-message? m)
                                        (and parent (vector? m) (== 3 (count m))
                                             (identical? :EXIT (nth m 0)) (= parent (nth m 1))))
                                m)))]
        (if (identical? :EXIT (nth m 0))
          (server/stop (nth m 2) state)
          (let [state (reply state (nth m 1) (nth m 2))]
            (if (= :resume (nth m 2)) state (recur state))))))))

(defn handle
  "Answer the system request; after :suspend, wait in `suspended` until
  :resume. Returns the state, or a tasklet.server/stop when the parent
  ended meanwhile."
  [state from request]
  (let [state (reply state from request)]
    (if (= :suspend request) (suspended state) state)))
