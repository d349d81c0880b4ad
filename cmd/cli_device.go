package gustcmd

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func init() { cliCommands = append(cliCommands, newDeviceCmd) }

// newDeviceCmd manages the MQTT credentials of single devices, so that a
// device does not hold the namespace's key and can be cut off alone.
func newDeviceCmd(e *env) *cobra.Command {
	var rotate bool
	return group(e, "device", "Work with MQTT device credentials (gust serve --mqtt-listen)", true,
		leaf{use: "create NAME", short: "Create a device's MQTT credentials; the password is shown once", minArgs: 1, maxArgs: 1,
			flags: func(fs *pflag.FlagSet) {
				fs.BoolVar(&rotate, "rotate", false, "give an existing device a new password (the old one stops working)")
			},
			run: func(x *call, args []string) error {
				d, resp, err := x.c.CreateDevice(x.ctx, args[0], rotate)
				if err != nil {
					return fail(err, "Unable to create device '%s'", args[0])
				}
				return x.show(resp, func() error {
					x.ok("created device %s", d.Name)
					fmt.Fprintf(x.stdout, "username: %s\npassword: %s\n", d.Username, d.Password)
					fmt.Fprintf(x.stdout, "The password is not shown again. The device publishes and subscribes below %s/, e.g.\n", d.Namespace)
					fmt.Fprintf(x.stdout, "  mosquitto_pub -h HOST -p PORT -u '%s' -P '%s' -t '%s/devices/%s/status' -m '{}'\n",
						d.Username, d.Password, d.Namespace, d.Name)
					return nil
				})
			}},
		leaf{use: "list", short: "List the namespace's devices", maxArgs: 0,
			run: func(x *call, _ []string) error {
				all, resp, err := x.c.Devices(x.ctx)
				if err != nil {
					return fail(err, "Unable to list the devices")
				}
				return x.show(resp, func() error {
					fmt.Fprintln(x.stdout, "devices")
					for _, d := range all {
						fmt.Fprintf(x.stdout, "%-32s %-40s created %s\n", d.Name, d.Username, time.UnixMilli(d.Created).Format(time.DateTime))
					}
					return nil
				})
			}},
		leaf{use: "get NAME", short: "Show a device (not its password)", minArgs: 1, maxArgs: 1,
			run: func(x *call, args []string) error {
				d, resp, err := x.c.GetDevice(x.ctx, args[0])
				if err != nil {
					return fail(err, "Unable to get device '%s'", args[0])
				}
				return x.show(resp, func() error {
					fmt.Fprintf(x.stdout, "device %s\nusername: %s\ncreated: %s\n", d.Name, d.Username, time.UnixMilli(d.Created).Format(time.DateTime))
					return nil
				})
			}},
		leaf{use: "delete NAME", short: "Delete a device: it can no longer log in", minArgs: 1, maxArgs: 1,
			run: func(x *call, args []string) error {
				d, resp, err := x.c.DeleteDevice(x.ctx, args[0])
				if err != nil {
					return fail(err, "Unable to delete device '%s'", args[0])
				}
				return x.show(resp, func() error {
					x.ok("deleted device %s", d.Name)
					return nil
				})
			}},
	)
}
