// Package thermostat is an example (see its README): devices publish
// temperatures to Gust's own MQTT listener, and an action publishes a
// command back to the device. Its test runs the README's commands.
package thermostat
