(ns ^:no-doc tasklet.impl.server-loop
  "gen_server's loop under tasklet.server/run: take a message, decode it (a
  call, a cast, the parent's exit, a sys request, anything else), run the
  implementation's handler, act on what it returned; and the way out
  (:terminate, the pending reply, the exit). tasklet.server holds the
  contract (its `run` docstring) and delegates here. Internal, stable for
  the library's own behaviours."
  (:require [tasklet.core :as t :refer [self]]
            [tasklet.impl.call :refer [reply]]
            [tasklet.impl.error :refer [error exit-error function?]]
            [tasklet.impl.process :as process]
            [tasklet.impl.start :as start]))

(set! *warn-on-reflection* true)

(deftype Stop [reason state from reply])

(defn stop
  "tasklet.server/stop: a Stop with no pending reply."
  [reason state]
  (Stop. reason state nil nil))

(def ^:private no-message (Object.))

(defn- any-message
  "Matcher for receive-fn that takes any message (a nil message is boxed,
  since nil means no match)."
  [m]
  (if (nil? m) no-message m))

(defn- tagged? [m tag n]
  (and (vector? m) (== n (count m)) (identical? tag (nth m 0))))

(defn- bad-return [handler value expected]
  (error :bad-return (str handler " must return " expected ", got " (pr-str value))
         {:handler handler :value value}))

(defn- missing-handler [k message]
  (error :badarg (str "this server's implementation has no " k " to handle " (pr-str message)
                      "; add one to the map given to start")
         {:handler k :message message}))

(def ^:private call-returns
  "[:reply r state], [:noreply state], [:stop reason r state] or [:stop reason state]")

(defn- call-result
  "Act on what :handle-call returned: the new state, or a Stop."
  [r from]
  (cond
    (instance? Stop r) r
    (vector? r)
    (let [n (count r)]
      (case (nth r 0 nil)
        :reply (if (== 3 n)
                 (do (reply from (nth r 1)) (nth r 2))
                 (throw (bad-return :handle-call r call-returns)))
        :noreply (if (== 2 n) (nth r 1) (throw (bad-return :handle-call r call-returns)))
        :stop (case n
                4 (Stop. (nth r 1) (nth r 3) from (nth r 2))
                3 (Stop. (nth r 1) (nth r 2) nil nil)
                (throw (bad-return :handle-call r call-returns)))
        (throw (bad-return :handle-call r call-returns))))
    :else (throw (bad-return :handle-call r call-returns))))

(defn- handle
  "Run the handler for message m; returns the new state or a Stop."
  [impl parent state m]
  (cond
    (tagged? m :tasklet/call 3)
    (let [f (or (:handle-call impl) (throw (missing-handler :handle-call (nth m 2))))]
      (call-result (f (nth m 2) (nth m 1) state) (nth m 1)))

    (tagged? m :tasklet/cast 2)
    ((or (:handle-cast impl) (throw (missing-handler :handle-cast (nth m 1)))) (nth m 1) state)

    (and parent (tagged? m :EXIT 3) (= parent (nth m 1)))
    (Stop. (nth m 2) state nil nil)

    :else
    (if-let [f (:handle-info impl)]
      (f (if (identical? no-message m) nil m) state)
      state)))

(defn truncated
  "x printed for a crash report: at most 10 items per collection, 4 levels
  deep and 2000 characters (proc_lib's reports are truncated too)."
  ^String [x]
  (let [s (binding [*print-length* 10 *print-level* 4]
            (try (pr-str x) (catch Throwable _ (str "#<unprintable " (class x) ">"))))]
    (if (> (count s) 2000) (str (subs s 0 2000) "...") s)))

(defn- crash-context!
  "Tell the kernel what this server's crash report should carry: the last
  message and the state, truncated."
  [last-message state]
  (process/set-crash-context!
    {:last-message (truncated (if (identical? no-message last-message) nil last-message))
     :state (truncated state)}))

(defn- finish
  "Stop the server: :terminate, then the pending reply (if any, even when
  :terminate threw), then exit with the reason. m is the last message."
  [impl ^Stop s m]
  (when (instance? Throwable (.-reason s)) (crash-context! m (.-state s)))
  (try
    (when-let [f (:terminate impl)]
      (f (.-reason s) (.-state s)))
    (catch Throwable e
      (crash-context! m (.-state s))
      (throw e))
    (finally
      (when-let [from (.-from s)]
        (reply from (.-reply s)))))
  (let [reason (.-reason s)]
    (if (instance? Throwable reason)
      (throw ^Throwable reason)
      (t/exit reason))))

;; ---------------------------------------------------------------------------
;; System messages (tasklet.sys): [:tasklet/system from request], answered
;; with (reply from [:ok v]) or (reply from [:error throwable]).

(defn system-message?
  "True for [:tasklet/system from request]."
  [m]
  (tagged? m :tasklet/system 3))

(defn- suspended-matcher
  "While suspended: only system messages, and the parent's exit signal."
  [parent]
  (fn [m]
    (when (or (system-message? m) (and parent (tagged? m :EXIT 3) (= parent (nth m 1))))
      m)))

(defn- system-reply
  "Answer system request req (see tasklet.sys) given the server's state,
  count of handled messages and start time; returns [state' suspended?]."
  [from req state suspended? handled start-ms]
  (let [ok (fn [v] (reply from [:ok v]))]
    (cond
      (= :get-state req) (do (ok state) [state suspended?])
      (and (vector? req) (= 2 (count req)) (= :replace-state (nth req 0)))
      (let [r (try [:ok ((nth req 1) state)]
                   (catch Throwable e
                     (if (process/exit? e) (throw e) [:error e])))]
        (reply from r)
        [(if (= :ok (nth r 0)) (nth r 1) state) suspended?])
      (= :suspend req) (do (ok :ok) [state true])
      (= :resume req) (do (ok :ok) [state false])
      (= :statistics req) (do (ok {:start-ms start-ms :now-ms (t/monotonic-ms) :messages-in handled})
                              [state suspended?])
      :else (do (reply from [:error (error :badarg (str "unknown system request " (pr-str req)
                                                        "; see tasklet.sys")
                                           {:request req})])
                [state suspended?]))))

(defn- serve [impl parent state start-ms]
  (loop [state state handled 0 suspended? false]
    (let [m (if suspended?
              (t/receive-fn (suspended-matcher parent))
              (t/receive-fn any-message))]
      (if (and (system-message? m) (not (:handle-system? impl)))
        (let [[state' suspended'] (system-reply (nth m 1) (nth m 2) state suspended? handled start-ms)]
          (recur state' handled suspended'))
        (let [r (try
                  (handle impl parent state m)
                  (catch Throwable e
                    (cond
                      (not (process/exit? e)) (Stop. e state nil nil)
                      ;; an exit signal ends the server at once (as in OTP); the
                      ;; handler's own (exit reason) goes through :terminate
                      (process/exit-signalled?) (throw e)
                      :else (Stop. (process/exit-reason e) state nil nil))))]
          (if (instance? Stop r)
            (finish impl r m)
            (recur r (inc handled) suspended?)))))))

(defn- fail-start!
  "init threw e: free the name, unlink the starter and tell it (see
  tasklet.impl.start/init-failed!), then end with e: by exit when a starter
  was told (its rethrow is the crash's one report), else by a throw (a crash
  report)."
  [starter name e]
  (start/init-failed! starter name (if (process/exit? e) (exit-error e (self) nil) e))
  (if (or (nil? starter) (process/exit? e))
    (throw e)
    (t/exit e)))

(defn- init-state [impl arg opts starter]
  (let [name (:name opts)]
    (try
      (when name (t/register name (self)))
      (if-let [f (:init impl)] (f arg) arg)
      (catch Throwable e (fail-start! starter name e)))))

(defn run
  "tasklet.server/run: claim the starter, :init, ack, serve."
  [impl arg opts]
  (let [start-ms (t/monotonic-ms)   ; before :init, so before start returns (sys/statistics)
        starter (start/claim-starter)
        parent (start/starter-parent starter)
        state (init-state impl arg opts starter)]
    (start/ack! starter :ok)
    (serve impl parent state start-ms)))

(defn check-impl
  "Throw {:tasklet/error :badarg} unless impl is a map of handler functions."
  [impl]
  (when-not (map? impl)
    (throw (error :badarg (str "a server implementation is a map of handler functions, got "
                               (pr-str impl))
                  {:impl impl})))
  (doseq [k [:init :handle-call :handle-cast :handle-info :terminate]]
    (when-let [f (get impl k)]
      (when-not (function? f)
        (throw (error :badarg (str "server implementation key " k " must be a function, got "
                                   (pr-str f))
                      {:key k :value f}))))))
