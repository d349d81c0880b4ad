// Decides what a thermostat should do from its temperature reading and
// says where to send the command: the device's own command topic. Its
// result is the parameters of /whisk.system/mqtt/publish, the next step
// of the sequence.
function main(params) {
  // The event's subject is the topic below the namespace:
  // devices/<device>/temperature.
  const device = params.__event.subject.split('/')[1];
  const celsius = Number(params.celsius);
  const target = Number(params.target || 21);
  const heat = celsius < target - 0.5 ? 'on' : 'off';
  return {
    topic: 'devices/' + device + '/command',
    payload: { heat: heat, target: target, measured: celsius },
    qos: 1,
  };
}
