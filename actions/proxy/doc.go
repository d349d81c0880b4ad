// Package proxy is Gust's action proxy: the HTTP server inside an action
// container that implements OpenWhisk's action container protocol
// (POST /init, POST /run) in ActionLoop mode, so that Gust's runtime images
// behave like OpenWhisk's and OpenWhisk's invoker could drive them.
//
// One long-lived language process per container runs the action. /init
// writes the action's code into the action directory (plain text, or a
// base64 zip that is extracted there) and starts the launcher with the
// init's env, $GUST_ACTION_PATH (the code file, or the directory of an
// extracted zip), $GUST_ACTION_MAIN (the entry point's name) and
// __OW_WAIT_FOR_ACK=true. The launcher reads requests from its stdin and
// writes answers on file descriptor 3, one JSON line each:
//
//   - first an acknowledgement, {"ok":true} once the code is loaded, or
//     {"error":"..."}, after which the proxy fails the init with 502;
//   - then for each /run, whose body the proxy writes to stdin as one line,
//     the action's result. The launcher sets every string field of the line
//     except "value" as the environment variable __OW_<FIELD IN UPPER CASE>
//     and calls the entry point with "value".
//
// With Config.Prestart (the -prestart flag) the proxy starts the launcher
// before /init, as soon as the proxy itself starts, so that a stem cell's
// interpreter is up when its /init comes. The launcher then gets
// GUST_INIT_ON_STDIN=true and __OW_WAIT_FOR_ACK=true but neither the code's
// place nor the init's env. It may write {"ready":true} on file descriptor
// 3 once it is up (Main listens only then, for up to 10 s), and waits for a
// first line on stdin,
// {"init":{"env":{...}}}: the environment variables it sets before it loads
// the code, the init's env with $GUST_ACTION_PATH, $GUST_ACTION_MAIN and
// __OW_WAIT_FOR_ACK among them, the same that a launcher started at /init
// gets. It answers with the acknowledgement above, and the protocol goes on
// as before. A launcher that exits before /init fails the /init with 502
// and says so. Gust's nodejs and python launchers support both ways; an
// ActionLoop launcher that does not runs without -prestart.
//
// A launcher that can run requests concurrently says so in its
// acknowledgement, {"ok":true,"concurrent":true}. The proxy then passes
// /runs through as they come and adds a numeric field "__gust_run" to each
// request line; the launcher answers {"__gust_run":<same>,"result":...}, so
// answers may come in any order. Otherwise the proxy runs one /run at a time
// and the lines are OpenWhisk's, so OpenWhisk's ActionLoop launchers work.
//
// An invoker may send a /run before the one ahead of it has ended, with
// QueueHeader: it waits at the proxy for its turn, which starts once the
// one ahead has been answered and its logs taken, and the proxy says so
// with a 102 Processing before the final answer; the run's time limit and
// its "deadline" count from then. If the language process is gone by its
// turn, the answer is 503 with QueueHeader set to QueueNotRun, with no
// 102: the action never got the request. The run that took an idle
// container comes with LeadHeader too: it starts at once, with no 102,
// when its turn is free, and hears 102 QueueWaiting, then waits as a
// queued one, when one queued behind it reached the proxy first.
//
// A launcher that acknowledges with "thrown":true answers an activation
// whose code threw (rather than returned) with the error's message as a
// JSON string, which no result can be: the proxy answers that /run with
// 502 {"error": message}, a developer error, as OpenWhisk's nodejs runtime
// answers a thrown exception. Such a launcher sends a result that is a
// string as null: it is not a dictionary either way.
//
// The language process writes to pipes that the proxy copies, line by
// line, to the container's stdout and stderr. After every /run and every
// failed /init the proxy writes the sentinel line
// XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX to both once the answer has
// arrived, so it follows what the action wrote before answering. As an
// extension, an invoker may ask for the logs with the answers instead
// (LogsHeader, InlineAnswer): it then need not follow the container's
// output at all.
//
// Main is the command-line entry point of the gust binary when it runs as
// /gust-proxy in a runtime image or as the local-process sandbox's child.
package proxy
