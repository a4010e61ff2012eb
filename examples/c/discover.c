/* discover.c: find ONVIF cameras on the LAN and, with credentials, list their profiles.
 *
 *   cc discover.c $(pkg-config --cflags --libs camwire) -o discover
 *   ./discover [TIMEOUT_MS] [USER PASSWORD]
 *   ./discover --unicast HOST[:PORT] [USER PASSWORD]   (a camera on another subnet)
 */
#include <camwire.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, camwire_result rc) {
    fprintf(stderr, "%s: %s (%s)\n", what, camwire_result_str(rc), camwire_last_error_message());
    return 1;
}

static void show_device(camwire_context *ctx, const char *xaddr, const char *user,
                        const char *pass) {
    camwire_device *dev = NULL;
    camwire_result rc = camwire_device_open(ctx, xaddr, user, pass, 5000, &dev);
    if (rc != CAMWIRE_OK) {
        fail("  open", rc);
        return;
    }
    camwire_device_info *info = NULL;
    camwire_device_info_view iv;
    camwire_struct_init(&iv, sizeof iv);
    if (camwire_device_get_information(dev, &info) == CAMWIRE_OK &&
        camwire_device_info_get2(info, &iv) == CAMWIRE_OK)
        printf("  %s %s, firmware %s, serial %s\n", iv.manufacturer, iv.model,
               iv.firmware_version, iv.serial_number);
    camwire_device_info_free(info);
    camwire_profile_list *profiles = NULL;
    if ((rc = camwire_device_get_profiles(dev, &profiles)) != CAMWIRE_OK) fail("  profiles", rc);
    for (size_t i = 0; i < camwire_profile_list_len(profiles); i++) {
        camwire_profile p;
        camwire_struct_init(&p, sizeof p);
        if (camwire_profile_list_get2(profiles, i, &p) != CAMWIRE_OK) continue;
        printf("  profile %s (%s): %s %ux%u @ %.1f fps\n    stream   %s\n    snapshot %s\n",
               p.token, p.name, p.encoding ? p.encoding : "-", p.width, p.height, p.fps,
               p.stream_uri ? p.stream_uri : "-", p.snapshot_uri ? p.snapshot_uri : "-");
    }
    camwire_profile_list_free(profiles);
    camwire_device_free(dev);
}

int main(int argc, char **argv) {
    const char *unicast = NULL;
    int arg = 1;
    unsigned timeout_ms = 3000;
    if (arg + 1 < argc && strcmp(argv[arg], "--unicast") == 0) {
        unicast = argv[arg + 1];
        arg += 2;
    } else if (arg < argc && argc != 3) {
        timeout_ms = (unsigned)atoi(argv[arg++]);
    }
    const char *user = arg + 1 < argc ? argv[arg] : NULL;
    const char *pass = arg + 1 < argc ? argv[arg + 1] : NULL;

    camwire_context *ctx = NULL;
    camwire_result rc = camwire_context_new2(NULL, &ctx);
    if (rc != CAMWIRE_OK) return fail("context", rc);
    camwire_device_list *list = NULL;
    rc = unicast ? camwire_discover_unicast(ctx, unicast, timeout_ms, &list)
                 : camwire_discover(ctx, timeout_ms, NULL, &list);
    if (rc != CAMWIRE_OK) {
        camwire_context_free(ctx);
        return fail("discover", rc);
    }
    size_t n = camwire_device_list_len(list);
    printf("%zu device(s)\n", n);
    for (size_t i = 0; i < n; i++) {
        camwire_discovered_device d;
        camwire_struct_init(&d, sizeof d);
        if (camwire_device_list_get2(list, i, &d) != CAMWIRE_OK) continue;
        printf("%s\n  xaddr %s\n  name %s, hardware %s\n", d.endpoint_reference,
               d.xaddr ? d.xaddr : "-", d.name ? d.name : "-", d.hardware ? d.hardware : "-");
        if (user && d.xaddr) show_device(ctx, d.xaddr, user, pass);
    }
    camwire_device_list_free(list);
    camwire_context_free(ctx);
    return 0;
}
