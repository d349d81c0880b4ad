// Runs for every verified payment: the trigger's event data (the payment
// object) arrives as parameters, the CloudEvent's attributes as __event.
function main(p) {
  console.log(`payment ${p.id} of ${p.amount} ${p.currency} succeeded`);
  return { paid: p.id, amount: p.amount, event: p.__event ? p.__event.id : null };
}
