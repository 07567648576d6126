(ns tasklet.sys
  "OTP's sys for tasklet processes: look at and change a running server's
  state, suspend and resume it, read its statistics. Works on servers
  (tasklet.server, and the supervisors built on it), statems and
  supervisors, each of which answers the system protocol:

    request    [:tasklet/system from request], sent with tasklet.server's
               call machinery (same timeouts and errors as server/call)
    requests   :get-state  [:replace-state f]  :suspend  :resume  :statistics
    reply      (tasklet.server/reply from [:ok value]) or
               (tasklet.server/reply from [:error throwable])

  A suspended process handles only system messages (and its parent's exit
  signal, so a supervisor can still stop it); every other message stays
  queued, in order, until `resume`.

    (def s (server/start {:handle-call (fn [_ _ n] [:reply n n])} 41))
    (sys/replace-state s inc)   ; => 42
    (sys/get-state s)           ; => 42

  Every function takes an optional timeout in ms (default 5000; nil or
  :infinity waits for ever) and throws as tasklet.server/call does:
  {:tasklet/error :timeout}, {:tasklet/error :noproc}, {:tasklet/error :exit}."
  (:require [tasklet.impl.call :as call]))

(set! *warn-on-reflection* true)

(defn- error [kind message data cause]
  (ex-info message (assoc data :tasklet/error kind) cause))

(defn- request [dest req timeout-ms]
  (let [r (call/system-call dest req timeout-ms)]
    (if (and (vector? r) (= 2 (count r)))
      (case (nth r 0)
        :ok (nth r 1)
        :error (let [^Throwable e (nth r 1)]
                 (throw (error :callback-failed
                               (str "the system request " (pr-str req) " to " (pr-str dest) " failed: "
                                    (.getMessage e) "; its state is unchanged (the cause says why)")
                               {:server dest :request req} e))))
      (throw (error :bad-return (str (pr-str dest) " answered the system request " (pr-str req)
                                     " with " (pr-str r) ", not [:ok v] or [:error e]")
                    {:server dest :request req :value r} nil)))))

(defn get-state
  "The state of dest (a server's state; a statem's [state data]; a
  supervisor's own state). OTP's sys:get_state."
  ([dest] (get-state dest 5000))
  ([dest timeout-ms] (request dest :get-state timeout-ms)))

(defn replace-state
  "Replace dest's state with (f state) and return the new state (OTP's
  sys:replace_state). When f throws, the state is unchanged and this throws
  ex-info {:tasklet/error :callback-failed} with f's exception as its cause;
  dest goes on."
  ([dest f] (replace-state dest f 5000))
  ([dest f timeout-ms]
   (when-not (ifn? f)
     (throw (ex-info (str "replace-state needs a function of the state, got " (pr-str f))
                     {:tasklet/error :badarg :fn f})))
   (request dest [:replace-state f] timeout-ms)))

(defn suspend
  "Suspend dest: until `resume`, it answers only system requests (and its
  parent's exit signal); other messages wait, in order. Returns :ok."
  ([dest] (suspend dest 5000))
  ([dest timeout-ms] (request dest :suspend timeout-ms)))

(defn resume
  "Resume a suspended dest: it goes on with the messages that waited, in
  order. Returns :ok (also when dest was not suspended)."
  ([dest] (resume dest 5000))
  ([dest timeout-ms] (request dest :resume timeout-ms)))

(defn statistics
  "{:start-ms t :now-ms t' :messages-in n}: when dest started and now, on the
  node's clock (tasklet.core/monotonic-ms, virtual under tasklet.test), and
  how many messages other than system requests it has handled. OTP's
  sys:statistics."
  ([dest] (statistics dest 5000))
  ([dest timeout-ms] (request dest :statistics timeout-ms)))
