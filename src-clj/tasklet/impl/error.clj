(ns ^:no-doc tasklet.impl.error
  "What the behaviours built on tasklet.core (server, statem, task) share
  about errors: every error is an ex-info whose data has :tasklet/error kind
  (doc/reference.md §6), servers and state machines check their start
  options and functions alike, and a call or a synchronous start that finds its server
  gone throws `exit-error`."
  (:require [tasklet.impl.process :as process])
  (:import [clojure.lang ExceptionInfo MultiFn]))

(set! *warn-on-reflection* true)

(defn error
  "ex-info with message and data plus {:tasklet/error kind}."
  ^ExceptionInfo [kind message data]
  (ex-info message (assoc data :tasklet/error kind)))

(defn function?
  "What the behaviours accept where they run a function: a fn, a var (a
  defn's, so a redefinition is seen), or a multimethod."
  [f]
  (or (fn? f) (var? f) (instance? MultiFn f)))

(defn check-start-opts
  "Throw {:tasklet/error :badarg} unless opts is nil or a map whose :name, if
  any, is a keyword; what names the behaviour (\"server\") and example its
  name in the message (\":my-server\")."
  [what example opts]
  (when-not (or (nil? opts) (map? opts))
    (throw (error :badarg (str what " options are a map like {:name " example "}, got " (pr-str opts))
                  {:opts opts})))
  (when-not (or (nil? (:name opts)) (keyword? (:name opts)))
    (throw (error :badarg (str what " option :name must be a keyword, got " (pr-str (:name opts)))
                  {:key :name :value (:name opts)}))))

(defn- reason-text [reason]
  (if (instance? Throwable reason)
    (str (.getName (class reason)) ": " (.getMessage ^Throwable reason))
    (pr-str reason)))

(defn exit-error
  "What a caller throws when `server` ended with `reason` before answering
  `request` (OTP's exit({Reason, {gen_server, call, ...}})): ex-info
  {:tasklet/error :noproc | :noconnection | :exit, :reason reason, :server
  server, :request request}, with a Throwable reason (a handler crashed) as
  its cause, so (ex-cause e) is the server's own exception. An exit
  exception (tasklet.impl.process/exit?) stands for its reason."
  [reason server request]
  (cond
    (process/exit? reason) (exit-error (process/exit-reason reason) server request)
    (= :noproc reason)
    (error :noproc (str "no server " (pr-str server) " is running; start it first, or check the name")
           {:server server :reason reason :request request})
    (= :noconnection reason)
    (error :noconnection (str "lost the connection to the node of server " (pr-str server))
           {:server server :reason reason :request request})
    :else
    (ex-info (str "server " (pr-str server) " exited with reason " (reason-text reason)
                  " before it replied to " (pr-str request)
                  (when (instance? Throwable reason) "; its exception is this one's cause"))
             {:tasklet/error :exit :server server :reason reason :request request}
             (when (instance? Throwable reason) reason))))
