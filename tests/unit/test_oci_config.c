/* oci/config.c: config.json and process.json parsed to structs, refused with
 * the JSON path of what is wrong, and written back by oci_*_to_json. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci/config.h"
#include "runtime/cleanup.h"
#include "tests/unit/unit.h"

/* The JSON in these tests is written with ' for " to stay readable. */
static char *q(const char *text)
{
	char *s = strdup(text);

	CHECK(s != NULL);
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	return s;
}

static struct oci_config *parse_ok(const char *text)
{
	cleanup_free char *json = q(text);
	struct oci_config *c = NULL;
	mv_error_t err = {0};

	if (oci_config_parse(json, strlen(json), "config.json", &c, &err) < 0)
		unit_fail(__FILE__, __LINE__, "parse: %s", err.msg);
	CHECK(c != NULL);
	return c;
}

/* Parsing fails with EINVAL and exactly the message msg. */
static void check_refused_len(const char *json, size_t len, const char *msg)
{
	struct oci_config *c = NULL;
	mv_error_t err = {0};

	CHECK_INT(oci_config_parse(json, len, "config.json", &c, &err), ==, -1);
	CHECK(c == NULL);
	CHECK_INT(err.err, ==, EINVAL);
	CHECK_STR(err.msg, msg);
	mv_error_release(&err);
}

static void check_refused(const char *text, const char *msg)
{
	cleanup_free char *json = q(text);

	check_refused_len(json, strlen(json), msg);
}

/* A config with a process whose fields are `fields` (after args and cwd). */
static void check_process_refused(const char *fields, const char *msg)
{
	cleanup_free char *text = NULL;

	CHECK(asprintf(&text, "{'ociVersion':'1.0.2','process':{'args':['sh'],'cwd':'/'%s}}",
		       fields) > 0);
	check_refused(text, msg);
}

/* A config with a linux object holding `fields`. */
static void check_linux_refused(const char *fields, const char *msg)
{
	cleanup_free char *text = NULL;

	CHECK(asprintf(&text, "{'ociVersion':'1.0.2','linux':{%s}}", fields) > 0);
	check_refused(text, msg);
}

/* ---- a full config ---- */

/* `runc spec` with everything a bundle may add. */
static const char full_config[] =
    "{'ociVersion':'1.0.2-dev',"
    " 'process':{'terminal':true,'consoleSize':{'height':25,'width':80},"
    "  'user':{'uid':1000,'gid':100,'umask':18,'additionalGids':[5,4294967295]},"
    "  'args':['sh','-c','echo hi'],"
    "  'env':['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin','TERM=xterm'],"
    "  'cwd':'/root',"
    "  'capabilities':{'bounding':['CAP_AUDIT_WRITE','CAP_KILL','CAP_NET_BIND_SERVICE'],"
    "   'effective':['CAP_KILL'],'permitted':['CAP_KILL','CAP_CHOWN'],'ambient':['CAP_KILL']},"
    "  'rlimits':[{'type':'RLIMIT_NOFILE','hard':1024,'soft':1024},"
    "   {'type':'RLIMIT_CORE','hard':18446744073709551615,'soft':0}],"
    "  'noNewPrivileges':true,'oomScoreAdj':-999,"
    "  'apparmorProfile':'acme','selinuxLabel':'system_u:system_r:svirt_lxc_net_t:s0'},"
    " 'root':{'path':'rootfs','readonly':true},"
    " 'hostname':'runc','domainname':'example.org',"
    " 'mounts':[{'destination':'/proc','type':'proc','source':'proc'},"
    "  {'destination':'/dev','type':'tmpfs','source':'tmpfs',"
    "   'options':['nosuid','strictatime','mode=755','size=65536k']},"
    "  {'destination':'/data','source':'/srv/data','options':['rbind','ro']}],"
    " 'hooks':{'prestart':[{'path':'/usr/bin/fix-mounts','args':['fix-mounts','a'],"
    "   'env':['K=v'],'timeout':5}],"
    "  'createRuntime':[{'path':'/bin/cr'}],'createContainer':[{'path':'/bin/cc'}],"
    "  'startContainer':[{'path':'/bin/sc'}],'poststart':[{'path':'/bin/ps'}],"
    "  'poststop':[{'path':'/bin/p1'},{'path':'/bin/p2','timeout':1}]},"
    " 'annotations':{'com.example.key1':'value1','com.example.key2':''},"
    " 'linux':{"
    "  'namespaces':[{'type':'pid'},{'type':'network','path':'/var/run/netns/n1'},"
    "   {'type':'ipc'},{'type':'uts'},{'type':'mount'},{'type':'user'},{'type':'cgroup'},"
    "   {'type':'time'}],"
    "  'uidMappings':[{'containerID':0,'hostID':100000,'size':65536}],"
    "  'gidMappings':[{'containerID':0,'hostID':200000,'size':1}],"
    "  'devices':[{'path':'/dev/fuse','type':'c','major':10,'minor':229,'fileMode':438,"
    "   'uid':0,'gid':0},{'path':'/dev/fifo','type':'p'}],"
    "  'resources':{'devices':[{'allow':false,'access':'rwm'},"
    "    {'allow':true,'type':'c','major':10,'minor':229,'access':'rw'}],"
    "   'memory':{'limit':536870912,'reservation':268435456,'swap':-1},"
    "   'cpu':{'shares':1024,'quota':100000,'period':500000,'cpus':'0-3','mems':'0'},"
    "   'pids':{'limit':32771},'blockIO':{'weight':10}},"
    "  'cgroupsPath':'/myRuntime/myContainer',"
    "  'sysctl':{'net.ipv4.ip_forward':'1','net.core.somaxconn':'256'},"
    "  'seccomp':{'defaultAction':'SCMP_ACT_ERRNO','defaultErrnoRet':1,"
    "   'architectures':['SCMP_ARCH_X86_64','SCMP_ARCH_X86'],'flags':['SECCOMP_FILTER_FLAG_LOG'],"
    "   'listenerPath':'/run/seccomp.sock',"
    "   'syscalls':[{'names':['read','write'],'action':'SCMP_ACT_ALLOW'},"
    "    {'names':['personality'],'action':'SCMP_ACT_ALLOW','args':["
    "     {'index':0,'value':18446744073709551615,'valueTwo':4294967296,"
    "      'op':'SCMP_CMP_MASKED_EQ'},{'index':5,'value':8,'op':'SCMP_CMP_EQ'}]},"
    "    {'names':['mkdir'],'action':'SCMP_ACT_ERRNO','errnoRet':38}]},"
    "  'rootfsPropagation':'rslave',"
    "  'maskedPaths':['/proc/kcore','/sys/firmware'],'readonlyPaths':['/proc/sys'],"
    "  'mountLabel':'system_u:object_r:svirt_sandbox_file_t:s0'},"
    " 'vm':{'hypervisor':{'path':'/x'}},'unknown':[1,{'a':null}]}";

static void check_full_process(const struct oci_process *p)
{
	CHECK(p->terminal);
	CHECK(p->has_console_size);
	CHECK_INT(p->console_height, ==, 25);
	CHECK_INT(p->console_width, ==, 80);
	CHECK_INT(p->user.uid, ==, 1000);
	CHECK_INT(p->user.gid, ==, 100);
	CHECK(p->user.has_umask);
	CHECK_INT(p->user.umask, ==, 18);
	CHECK_INT(p->user.n_additional_gids, ==, 2);
	CHECK_INT(p->user.additional_gids[0], ==, 5);
	CHECK(p->user.additional_gids[1] == UINT32_MAX);
	CHECK(p->user.username == NULL);
	CHECK_INT(p->args.n, ==, 3);
	CHECK_STR(p->args.v[0], "sh");
	CHECK_STR(p->args.v[2], "echo hi");
	CHECK(p->args.v[3] == NULL);
	CHECK_INT(p->env.n, ==, 2);
	CHECK_STR(p->env.v[1], "TERM=xterm");
	CHECK(p->env.v[2] == NULL);
	CHECK_STR(p->cwd, "/root");
	CHECK(p->has_capabilities);
	CHECK_INT(p->capabilities.bounding.n, ==, 3);
	CHECK_STR(p->capabilities.bounding.v[2], "CAP_NET_BIND_SERVICE");
	CHECK_INT(p->capabilities.effective.n, ==, 1);
	CHECK_INT(p->capabilities.inheritable.n, ==, 0);
	CHECK(p->capabilities.inheritable.v == NULL);
	CHECK_STR(p->capabilities.permitted.v[1], "CAP_CHOWN");
	CHECK_STR(p->capabilities.ambient.v[0], "CAP_KILL");
	CHECK_INT(p->n_rlimits, ==, 2);
	CHECK_STR(p->rlimits[0].type, "RLIMIT_NOFILE");
	CHECK_INT(p->rlimits[0].soft, ==, 1024);
	CHECK_INT(p->rlimits[0].hard, ==, 1024);
	CHECK_STR(p->rlimits[1].type, "RLIMIT_CORE");
	CHECK(p->rlimits[1].hard == UINT64_MAX);
	CHECK(p->rlimits[1].soft == 0);
	CHECK(p->no_new_privileges);
	CHECK(p->has_oom_score_adj);
	CHECK_INT(p->oom_score_adj, ==, -999);
	CHECK_STR(p->apparmor_profile, "acme");
	CHECK_STR(p->selinux_label, "system_u:system_r:svirt_lxc_net_t:s0");
}

static void check_full_mounts(const struct oci_config *c)
{
	CHECK_INT(c->n_mounts, ==, 3);
	CHECK_STR(c->mounts[0].destination, "/proc");
	CHECK_STR(c->mounts[0].type, "proc");
	CHECK_STR(c->mounts[0].source, "proc");
	CHECK_INT(c->mounts[0].options.n, ==, 0);
	CHECK_INT(c->mounts[1].options.n, ==, 4);
	CHECK_STR(c->mounts[1].options.v[3], "size=65536k");
	CHECK(c->mounts[2].type == NULL);
	CHECK_STR(c->mounts[2].source, "/srv/data");
	CHECK_STR(c->mounts[2].options.v[0], "rbind");
}

static void check_full_hooks(const struct oci_hooks *h)
{
	CHECK_INT(h->n_prestart, ==, 1);
	CHECK_STR(h->prestart[0].path, "/usr/bin/fix-mounts");
	CHECK_INT(h->prestart[0].args.n, ==, 2);
	CHECK_STR(h->prestart[0].args.v[1], "a");
	CHECK_STR(h->prestart[0].env.v[0], "K=v");
	CHECK(h->prestart[0].has_timeout);
	CHECK_INT(h->prestart[0].timeout, ==, 5);
	CHECK_INT(h->n_create_runtime, ==, 1);
	CHECK_STR(h->create_runtime[0].path, "/bin/cr");
	CHECK(!h->create_runtime[0].has_timeout);
	CHECK_STR(h->create_container[0].path, "/bin/cc");
	CHECK_STR(h->start_container[0].path, "/bin/sc");
	CHECK_STR(h->poststart[0].path, "/bin/ps");
	CHECK_INT(h->n_poststop, ==, 2);
	CHECK_STR(h->poststop[1].path, "/bin/p2");
	CHECK_INT(h->poststop[1].timeout, ==, 1);
}

static void check_full_devices(const struct oci_linux *l)
{
	CHECK_INT(l->n_devices, ==, 2);
	CHECK_STR(l->devices[0].path, "/dev/fuse");
	CHECK_STR(l->devices[0].type, "c");
	CHECK_INT(l->devices[0].major, ==, 10);
	CHECK_INT(l->devices[0].minor, ==, 229);
	CHECK(l->devices[0].has_file_mode && l->devices[0].file_mode == 0666);
	CHECK(l->devices[0].has_uid && l->devices[0].uid == 0);
	CHECK(l->devices[0].has_gid && l->devices[0].gid == 0);
	CHECK_STR(l->devices[1].type, "p");
	CHECK(!l->devices[1].has_file_mode && !l->devices[1].has_uid && !l->devices[1].has_gid);
}

static void check_full_resources(const struct oci_linux *l)
{
	const struct oci_resources *r = &l->resources;

	CHECK(l->has_resources);
	CHECK_INT(r->n_devices, ==, 2);
	CHECK(!r->devices[0].allow);
	CHECK(r->devices[0].type == NULL);
	CHECK_INT(r->devices[0].major, ==, -1);
	CHECK_INT(r->devices[0].minor, ==, -1);
	CHECK_STR(r->devices[0].access, "rwm");
	CHECK(r->devices[1].allow);
	CHECK_STR(r->devices[1].type, "c");
	CHECK_INT(r->devices[1].major, ==, 10);
	CHECK_INT(r->devices[1].minor, ==, 229);
	CHECK(r->has_memory_limit && r->memory_limit == 536870912);
	CHECK(r->has_memory_reservation && r->memory_reservation == 268435456);
	CHECK(r->has_memory_swap && r->memory_swap == -1);
	CHECK(r->has_cpu_shares && r->cpu_shares == 1024);
	CHECK(r->has_cpu_quota && r->cpu_quota == 100000);
	CHECK(r->has_cpu_period && r->cpu_period == 500000);
	CHECK_STR(r->cpu_cpus, "0-3");
	CHECK_STR(r->cpu_mems, "0");
	CHECK(r->has_pids_limit && r->pids_limit == 32771);
}

static void check_full_seccomp(const struct oci_seccomp *s)
{
	CHECK(s != NULL);
	CHECK_STR(s->default_action, "SCMP_ACT_ERRNO");
	CHECK(s->has_default_errno_ret && s->default_errno_ret == 1);
	CHECK_INT(s->architectures.n, ==, 2);
	CHECK_STR(s->architectures.v[1], "SCMP_ARCH_X86");
	CHECK_STR(s->flags.v[0], "SECCOMP_FILTER_FLAG_LOG");
	CHECK_STR(s->listener_path, "/run/seccomp.sock");
	CHECK_INT(s->n_syscalls, ==, 3);
	CHECK_INT(s->syscalls[0].names.n, ==, 2);
	CHECK_STR(s->syscalls[0].names.v[1], "write");
	CHECK_STR(s->syscalls[0].action, "SCMP_ACT_ALLOW");
	CHECK(!s->syscalls[0].has_errno_ret);
	CHECK_INT(s->syscalls[0].n_args, ==, 0);
	CHECK_INT(s->syscalls[1].n_args, ==, 2);
	CHECK_INT(s->syscalls[1].args[0].index, ==, 0);
	CHECK(s->syscalls[1].args[0].value == UINT64_MAX);
	CHECK(s->syscalls[1].args[0].value_two == 4294967296ull);
	CHECK_STR(s->syscalls[1].args[0].op, "SCMP_CMP_MASKED_EQ");
	CHECK_INT(s->syscalls[1].args[1].index, ==, 5);
	CHECK_INT(s->syscalls[1].args[1].value, ==, 8);
	CHECK_INT(s->syscalls[1].args[1].value_two, ==, 0);
	CHECK(s->syscalls[2].has_errno_ret && s->syscalls[2].errno_ret == 38);
}

static void check_full_linux(const struct oci_linux *l)
{
	CHECK(l != NULL);
	CHECK_INT(l->n_namespaces, ==, 8);
	CHECK_STR(l->namespaces[0].type, "pid");
	CHECK(l->namespaces[0].path == NULL);
	CHECK_STR(l->namespaces[1].type, "network");
	CHECK_STR(l->namespaces[1].path, "/var/run/netns/n1");
	CHECK_STR(l->namespaces[7].type, "time");
	CHECK_INT(l->n_uid_mappings, ==, 1);
	CHECK_INT(l->uid_mappings[0].container_id, ==, 0);
	CHECK_INT(l->uid_mappings[0].host_id, ==, 100000);
	CHECK_INT(l->uid_mappings[0].size, ==, 65536);
	CHECK_INT(l->n_gid_mappings, ==, 1);
	CHECK_INT(l->gid_mappings[0].host_id, ==, 200000);
	check_full_devices(l);
	check_full_resources(l);
	CHECK_STR(l->cgroups_path, "/myRuntime/myContainer");
	CHECK_INT(l->sysctl.n, ==, 2);
	CHECK_STR(l->sysctl.keys[0], "net.ipv4.ip_forward");
	CHECK_STR(l->sysctl.values[0], "1");
	CHECK_STR(l->sysctl.keys[1], "net.core.somaxconn");
	CHECK_STR(l->sysctl.values[1], "256");
	check_full_seccomp(l->seccomp);
	CHECK_STR(l->rootfs_propagation, "rslave");
	CHECK_INT(l->masked_paths.n, ==, 2);
	CHECK_STR(l->masked_paths.v[1], "/sys/firmware");
	CHECK_STR(l->readonly_paths.v[0], "/proc/sys");
	CHECK_STR(l->mount_label, "system_u:object_r:svirt_sandbox_file_t:s0");
}

static void check_full(const struct oci_config *c)
{
	CHECK_STR(c->oci_version, "1.0.2-dev");
	CHECK(c->process != NULL);
	check_full_process(c->process);
	CHECK(c->root != NULL);
	CHECK_STR(c->root->path, "rootfs");
	CHECK(c->root->readonly);
	CHECK_STR(c->hostname, "runc");
	CHECK_STR(c->domainname, "example.org");
	check_full_mounts(c);
	check_full_hooks(&c->hooks);
	CHECK_INT(c->annotations.n, ==, 2);
	CHECK_STR(c->annotations.keys[0], "com.example.key1");
	CHECK_STR(c->annotations.values[0], "value1");
	CHECK_STR(c->annotations.values[1], "");
	check_full_linux(c->linux_);
}

TEST(oci_config_full)
{
	struct oci_config *c = parse_ok(full_config);

	check_full(c);
	oci_config_free(c);
}

/* What parse reads back from to_json is the same config, field by field,
 * and writes the same JSON again. */
TEST(oci_config_round_trip)
{
	struct oci_config *c = parse_ok(full_config), *back = NULL;
	cleanup_free char *json = NULL, *again = NULL;
	mv_error_t err = {0};
	size_t len, len2;

	CHECK_INT(oci_config_to_json(c, &json, &len, &err), ==, 0);
	CHECK_INT(strlen(json), ==, len);
	if (oci_config_parse(json, len, "sent.json", &back, &err) < 0)
		unit_fail(__FILE__, __LINE__, "%s in %s", err.msg, json);
	check_full(back);
	CHECK_INT(oci_config_to_json(back, &again, &len2, &err), ==, 0);
	CHECK_STR(again, json);
	oci_config_free(c);
	oci_config_free(back);
}

TEST(oci_config_round_trip_minimal)
{
	struct oci_config *c = parse_ok("{'ociVersion':'1.1.0'}"), *back = NULL;
	cleanup_free char *json = NULL;
	mv_error_t err = {0};
	size_t len;

	CHECK_INT(oci_config_to_json(c, &json, &len, &err), ==, 0);
	CHECK_STR(json, "{\"ociVersion\":\"1.1.0\"}");
	CHECK_INT(oci_config_parse(json, len, "x", &back, &err), ==, 0);
	CHECK(back->process == NULL && back->linux_ == NULL);
	oci_config_free(c);
	oci_config_free(back);
}

TEST(oci_config_to_json_escapes_strings)
{
	struct oci_config *c = parse_ok("{'ociVersion':'1.0.0','hostname':'a\\\"b\\\\c\\n\\u00e9',"
					"'annotations':{'k\\tx':'\\u2603'}}"),
			  *back = NULL;
	cleanup_free char *json = NULL;
	mv_error_t err = {0};
	size_t len;

	CHECK_STR(c->hostname, "a\"b\\c\n\xc3\xa9");
	CHECK_INT(oci_config_to_json(c, &json, &len, &err), ==, 0);
	CHECK_INT(oci_config_parse(json, len, "x", &back, &err), ==, 0);
	CHECK_STR(back->hostname, c->hostname);
	CHECK_STR(back->annotations.keys[0], "k\tx");
	CHECK_STR(back->annotations.values[0], "\xe2\x98\x83");
	oci_config_free(c);
	oci_config_free(back);
}

TEST(oci_config_to_json_refuses_bad_utf8)
{
	struct oci_config *c = parse_ok("{'ociVersion':'1.0.0'}");
	char *json = NULL;
	mv_error_t err = {0};
	size_t len;

	c->hostname = strdup("\xff\xfe");
	CHECK_INT(oci_config_to_json(c, &json, &len, &err), ==, -1);
	CHECK_INT(err.err, ==, EINVAL);
	CHECK(json == NULL);
	mv_error_release(&err);
	oci_config_free(c);
}

/* ---- absent and optional ---- */

TEST(oci_config_minimal_is_all_absent)
{
	struct oci_config *c = parse_ok("{'ociVersion':'1.0.0'}");

	CHECK_STR(c->oci_version, "1.0.0");
	CHECK(c->process == NULL && c->root == NULL && c->linux_ == NULL);
	CHECK(c->hostname == NULL && c->domainname == NULL);
	CHECK(c->mounts == NULL && c->n_mounts == 0);
	CHECK(c->hooks.n_prestart == 0 && c->hooks.n_poststop == 0);
	CHECK(c->annotations.n == 0 && c->annotations.keys == NULL);
	oci_config_free(c);
}

TEST(oci_config_null_is_absent)
{
	struct oci_config *c =
	    parse_ok("{'ociVersion':'1.0.0','process':null,'hostname':null,"
		     "'mounts':null,'linux':{'seccomp':null,'namespaces':null}}");

	CHECK(c->process == NULL && c->hostname == NULL && c->n_mounts == 0);
	CHECK(c->linux_ != NULL && c->linux_->seccomp == NULL && c->linux_->n_namespaces == 0);
	oci_config_free(c);
}

TEST(oci_config_process_defaults)
{
	struct oci_config *c =
	    parse_ok("{'ociVersion':'1.0.0','process':{'args':['a'],'cwd':'/'}}");
	const struct oci_process *p = c->process;

	CHECK(!p->terminal && !p->has_console_size && !p->has_capabilities);
	CHECK(!p->user.has_umask && p->user.uid == 0 && p->user.gid == 0);
	CHECK(p->env.n == 0 && p->env.v == NULL && p->n_rlimits == 0);
	CHECK(!p->no_new_privileges && !p->has_oom_score_adj);
	CHECK(p->apparmor_profile == NULL && p->selinux_label == NULL);
	oci_config_free(c);
}

TEST(oci_config_empty_objects)
{
	struct oci_config *c =
	    parse_ok("{'ociVersion':'1.0.0','process':{'args':['a'],'cwd':'/','capabilities':{}},"
		     "'hooks':{},'annotations':{},'linux':{'resources':{},'seccomp':{"
		     "'defaultAction':'SCMP_ACT_ALLOW'}}}");

	CHECK(c->process->has_capabilities);
	CHECK(c->process->capabilities.bounding.n == 0);
	CHECK(c->linux_->has_resources);
	CHECK(!c->linux_->resources.has_memory_limit && !c->linux_->resources.has_pids_limit);
	CHECK(c->linux_->seccomp->n_syscalls == 0);
	CHECK(!c->linux_->seccomp->has_default_errno_ret);
	oci_config_free(c);
}

TEST(oci_config_repeated_key_last_wins)
{
	struct oci_config *c = parse_ok("{'ociVersion':'1.0.0','hostname':'a','hostname':'b',"
					"'annotations':{'k':'1','k':'2'}}");

	CHECK_STR(c->hostname, "b");
	CHECK_INT(c->annotations.n, ==, 2);
	CHECK_STR(c->annotations.values[1], "2");
	oci_config_free(c);
}

/* ---- malformed documents ---- */

TEST(oci_config_malformed_json)
{
	check_refused("{'ociVersion':", "`config.json`: invalid JSON: parse error: premature EOF");
	check_refused("", "`config.json`: invalid JSON: parse error: premature EOF");
	check_refused("{'ociVersion':'1.0.0',}",
		      "`config.json`: invalid JSON: parse error: invalid object key "
		      "(must be a string)");
	check_refused("{'ociVersion':'1.0.0'} {}",
		      "`config.json`: invalid JSON: parse error: trailing garbage");
	check_refused("{/* c */'ociVersion':'1.0.0'}",
		      "`config.json`: invalid JSON: lexical error: probable comment found in input "
		      "text, comments are not enabled.");
	check_refused("{'ociVersion':'1.0.0','x':tru}",
		      "`config.json`: invalid JSON: lexical error: invalid string in json text.");
}

TEST(oci_config_not_an_object)
{
	check_refused("[]", "`config.json`: expected an object");
	check_refused("'1.0.0'", "`config.json`: expected an object");
	check_refused("null", "`config.json`: expected an object");
}

TEST(oci_config_raw_nul_and_bad_utf8)
{
	static const char nul[] = "{\"ociVersion\":\"1.0\0.0\"}";
	static const char utf8[] = "{\"ociVersion\":\"1.0.0\",\"hostname\":\"\xc3\x28\"}";
	struct oci_config *c = NULL;
	mv_error_t err = {0};

	CHECK_INT(oci_config_parse(nul, sizeof(nul) - 1, "config.json", &c, &err), ==, -1);
	CHECK_INT(err.err, ==, EINVAL);
	CHECK(strncmp(err.msg, "`config.json`: invalid JSON: ", 29) == 0);
	mv_error_release(&err);
	CHECK_INT(oci_config_parse(utf8, sizeof(utf8) - 1, "config.json", &c, &err), ==, -1);
	CHECK(strncmp(err.msg, "`config.json`: invalid JSON: ", 29) == 0);
	mv_error_release(&err);
}

TEST(oci_config_escaped_nul_refused)
{
	check_refused("{'ociVersion':'1.0.0','hostname':'a\\u0000b'}",
		      "`config.json`: hostname: holds a NUL character");
	check_process_refused(",'env':['A=1','B=\\u0000']",
			      "`config.json`: process.env[1]: holds a NUL character");
	check_refused("{'ociVersion':'1.0.0','annotations':{'k':'\\u0000'}}",
		      "`config.json`: annotations.k: holds a NUL character");
	check_refused("{'ociVersion':'1.0.0','annotations':{'k\\u0000x':'v'}}",
		      "`config.json`: an object key holds a NUL character");
	/* An escaped backslash before u0000 is text, not a NUL. */
	struct oci_config *c = parse_ok("{'ociVersion':'1.0.0','hostname':'\\\\u0000'}");
	CHECK_STR(c->hostname, "\\u0000");
	oci_config_free(c);
}

/* A deep document is refused, not a stack overflow. */
TEST(oci_config_deep_nesting)
{
	size_t depth = 100000;
	cleanup_free char *s = malloc(2 * depth + 64);
	char *p = s;

	p += sprintf(p, "{\"ociVersion\":\"1.0.0\",\"x\":");
	memset(p, '[', depth);
	memset(p + depth, ']', depth);
	strcpy(p + 2 * depth, "}");
	check_refused_len(s, strlen(s), "`config.json`: nested deeper than 64 levels");
	/* 64 levels are fine. */
	p = s + strlen("{\"ociVersion\":\"1.0.0\",\"x\":");
	memset(p, '[', 63);
	memset(p + 63, ']', 63);
	strcpy(p + 126, "}");
	struct oci_config *c = NULL;
	mv_error_t err = {0};
	CHECK_INT(oci_config_parse(s, strlen(s), "config.json", &c, &err), ==, 0);
	oci_config_free(c);
}

TEST(oci_config_too_many_values)
{
	size_t n = 300000;
	cleanup_free char *s = malloc(2 * n + 64);
	char *p = s + sprintf(s, "{\"ociVersion\":\"1.0.0\",\"x\":[");

	for (size_t i = 0; i < n; i++) {
		*p++ = '0';
		*p++ = ',';
	}
	strcpy(p, "0]}");
	check_refused_len(s, strlen(s), "`config.json`: more than 262144 values");
}

TEST(oci_config_too_large)
{
	size_t len = OCI_CONFIG_MAX_SIZE + 1;
	cleanup_free char *s = malloc(len);

	memset(s, ' ', len);
	check_refused_len(s, len, "`config.json`: larger than 4 MiB");
}

/* ---- ociVersion ---- */

TEST(oci_config_version)
{
	check_refused("{}", "`config.json`: ociVersion: is required");
	check_refused("{'ociVersion':null}", "`config.json`: ociVersion: is required");
	check_refused("{'ociVersion':1}", "`config.json`: ociVersion: expected a string");
	check_refused("{'ociVersion':'2.0.0'}",
		      "`config.json`: ociVersion: `2.0.0` is not supported (1.x)");
	check_refused("{'ociVersion':'0.5.0-dev'}",
		      "`config.json`: ociVersion: `0.5.0-dev` is not supported (1.x)");
	check_refused("{'ociVersion':'1'}",
		      "`config.json`: ociVersion: `1` is not supported (1.x)");
	check_refused("{'ociVersion':'10.0.0'}",
		      "`config.json`: ociVersion: `10.0.0` is not supported (1.x)");
	oci_config_free(parse_ok("{'ociVersion':'1.2.0+dev'}"));
}

/* ---- process ---- */

TEST(oci_config_process_required)
{
	check_refused("{'ociVersion':'1.0.0','process':{'cwd':'/'}}",
		      "`config.json`: process.args: is required");
	check_refused("{'ociVersion':'1.0.0','process':{'args':['a']}}",
		      "`config.json`: process.cwd: is required");
	check_refused("{'ociVersion':'1.0.0','process':{'args':[],'cwd':'/'}}",
		      "`config.json`: process.args: must have at least one entry");
	check_refused("{'ociVersion':'1.0.0','process':[]}",
		      "`config.json`: process: expected an object");
}

TEST(oci_config_process_types)
{
	check_refused("{'ociVersion':'1.0.0','process':{'args':['a',1],'cwd':'/'}}",
		      "`config.json`: process.args[1]: expected a string");
	check_refused("{'ociVersion':'1.0.0','process':{'args':[1],'cwd':'/'}}",
		      "`config.json`: process.args[0]: expected a string");
	check_refused("{'ociVersion':'1.0.0','process':{'args':'sh','cwd':'/'}}",
		      "`config.json`: process.args: expected an array");
	check_process_refused(",'terminal':'yes'",
			      "`config.json`: process.terminal: expected a boolean");
	check_process_refused(",'env':{}", "`config.json`: process.env: expected an array");
	check_process_refused(",'noNewPrivileges':1",
			      "`config.json`: process.noNewPrivileges: expected a boolean");
	check_process_refused(",'capabilities':{'bounding':[true]}",
			      "`config.json`: process.capabilities.bounding[0]: expected a string");
	check_process_refused(",'consoleSize':{'height':1}",
			      "`config.json`: process.consoleSize.width: is required");
	check_process_refused(",'apparmorProfile':[]",
			      "`config.json`: process.apparmorProfile: expected a string");
}

TEST(oci_config_process_cwd_absolute)
{
	check_refused("{'ociVersion':'1.0.0','process':{'args':['a'],'cwd':'root'}}",
		      "`config.json`: process.cwd: must be an absolute path");
	check_refused("{'ociVersion':'1.0.0','process':{'args':['a'],'cwd':''}}",
		      "`config.json`: process.cwd: must be an absolute path");
}

TEST(oci_config_user_ids)
{
	check_process_refused(
	    ",'user':{'uid':-1}",
	    "`config.json`: process.user.uid: `-1` is out of range (0 to 4294967295)");
	check_process_refused(",'user':{'gid':4294967296}",
			      "`config.json`: process.user.gid: `4294967296` is out of range "
			      "(0 to 4294967295)");
	check_process_refused(",'user':{'uid':1.5}",
			      "`config.json`: process.user.uid: expected an integer");
	check_process_refused(",'user':{'uid':1e3}",
			      "`config.json`: process.user.uid: expected an integer");
	check_process_refused(",'user':{'uid':'0'}",
			      "`config.json`: process.user.uid: expected an integer");
	check_process_refused(",'user':{'additionalGids':[1,-2]}",
			      "`config.json`: process.user.additionalGids[1]: `-2` is out of range "
			      "(0 to 4294967295)");

	struct oci_config *c = parse_ok("{'ociVersion':'1.0.0','process':{'args':['a'],'cwd':'/',"
					"'user':{'uid':4294967295,'gid':-0}}}");
	CHECK(c->process->user.uid == UINT32_MAX);
	CHECK_INT(c->process->user.gid, ==, 0);
	oci_config_free(c);
}

TEST(oci_config_huge_numbers)
{
	check_process_refused(
	    ",'rlimits':[{'type':'RLIMIT_CORE','soft':18446744073709551616,'hard':0}]",
	    "`config.json`: process.rlimits[0].soft: `18446744073709551616` is out "
	    "of range (0 to 18446744073709551615)");
	check_process_refused(
	    ",'rlimits':[{'type':'RLIMIT_CORE','soft':0,'hard':99999999999999999999999999}]",
	    "`config.json`: process.rlimits[0].hard: `99999999999999999999999999` is out of range "
	    "(0 "
	    "to 18446744073709551615)");
	check_process_refused(",'rlimits':[{'type':'RLIMIT_CORE','soft':-1,'hard':0}]",
			      "`config.json`: process.rlimits[0].soft: `-1` is out of range (0 to "
			      "18446744073709551615)");
	check_linux_refused("'resources':{'memory':{'limit':9223372036854775808}}",
			    "`config.json`: linux.resources.memory.limit: `9223372036854775808` is "
			    "out of range (-9223372036854775808 to 9223372036854775807)");
	check_process_refused(
	    ",'oomScoreAdj':1001",
	    "`config.json`: process.oomScoreAdj: `1001` is out of range (-1000 to "
	    "1000)");

	struct oci_config *c = parse_ok(
	    "{'ociVersion':'1.0.0','linux':{'resources':{'memory':{'limit':-9223372036854775808,"
	    "'swap':9223372036854775807}}}}");
	CHECK(c->linux_->resources.memory_limit == INT64_MIN);
	CHECK(c->linux_->resources.memory_swap == INT64_MAX);
	oci_config_free(c);
}

TEST(oci_config_rlimits)
{
	check_process_refused(
	    ",'rlimits':[{'type':'NOFILE','soft':1,'hard':1}]",
	    "`config.json`: process.rlimits[0].type: `NOFILE` is not an rlimit type "
	    "(RLIMIT_NOFILE, RLIMIT_NPROC...)");
	check_process_refused(",'rlimits':[{'type':'RLIMIT_NOFILE','soft':1}]",
			      "`config.json`: process.rlimits[0].hard: is required");
	check_process_refused(",'rlimits':[{'soft':1,'hard':1}]",
			      "`config.json`: process.rlimits[0].type: is required");
	check_process_refused(",'rlimits':[{'type':'RLIMIT_NOFILE','soft':1,'hard':1},"
			      "{'type':'RLIMIT_CORE','soft':1,'hard':1},"
			      "{'type':'RLIMIT_NOFILE','soft':2,'hard':2}]",
			      "`config.json`: process.rlimits[2].type: duplicate `RLIMIT_NOFILE`");
}

/* ---- root, mounts, hooks ---- */

TEST(oci_config_root)
{
	check_refused("{'ociVersion':'1.0.0','root':{'readonly':true}}",
		      "`config.json`: root.path: is required");
	check_refused("{'ociVersion':'1.0.0','root':{'path':''}}",
		      "`config.json`: root.path: must not be empty");
	check_refused("{'ociVersion':'1.0.0','root':{'path':'r','readonly':'no'}}",
		      "`config.json`: root.readonly: expected a boolean");

	struct oci_config *c = parse_ok("{'ociVersion':'1.0.0','root':{'path':'/abs/rootfs'}}");
	CHECK_STR(c->root->path, "/abs/rootfs");
	CHECK(!c->root->readonly);
	oci_config_free(c);
}

TEST(oci_config_mounts)
{
	check_refused("{'ociVersion':'1.0.0','mounts':[{'destination':'/a'},{'type':'tmpfs'}]}",
		      "`config.json`: mounts[1].destination: is required");
	check_refused("{'ociVersion':'1.0.0','mounts':[{'destination':'tmp'}]}",
		      "`config.json`: mounts[0].destination: must be an absolute path");
	check_refused("{'ociVersion':'1.0.0','mounts':[{'destination':'/t','options':['ro',7]}]}",
		      "`config.json`: mounts[0].options[1]: expected a string");
	check_refused("{'ociVersion':'1.0.0','mounts':{}}",
		      "`config.json`: mounts: expected an array");
	check_refused("{'ociVersion':'1.0.0','mounts':[3]}",
		      "`config.json`: mounts[0]: expected an object");
}

TEST(oci_config_hooks)
{
	check_refused("{'ociVersion':'1.0.0','hooks':{'poststop':[{'args':['x']}]}}",
		      "`config.json`: hooks.poststop[0].path: is required");
	check_refused("{'ociVersion':'1.0.0','hooks':{'createRuntime':[{'path':'bin/x'}]}}",
		      "`config.json`: hooks.createRuntime[0].path: must be an absolute path");
	check_refused("{'ociVersion':'1.0.0','hooks':{'prestart':[{'path':'/x','timeout':0}]}}",
		      "`config.json`: hooks.prestart[0].timeout: `0` is out of range (1 to "
		      "2147483647)");
	check_refused("{'ociVersion':'1.0.0','hooks':{'prestart':[{'path':'/x','timeout':-3}]}}",
		      "`config.json`: hooks.prestart[0].timeout: `-3` is out of range (1 to "
		      "2147483647)");
	check_refused("{'ociVersion':'1.0.0','hooks':{'startContainer':[{'path':'/x','env':[1]}]}}",
		      "`config.json`: hooks.startContainer[0].env[0]: expected a string");
}

/* ---- linux ---- */

TEST(oci_config_namespaces)
{
	check_linux_refused(
	    "'namespaces':[{'type':'pid'},{'type':'net'}]",
	    "`config.json`: linux.namespaces[1].type: `net` is not a namespace type "
	    "(pid, network, mount, ipc, uts, user, cgroup, time)");
	check_linux_refused("'namespaces':[{'path':'/proc/1/ns/pid'}]",
			    "`config.json`: linux.namespaces[0].type: is required");
	check_linux_refused("'namespaces':[{'type':'pid'},{'type':'mount'},{'type':'pid',"
			    "'path':'/proc/1/ns/pid'}]",
			    "`config.json`: linux.namespaces[2].type: duplicate `pid`");
	check_linux_refused("'namespaces':[{'type':'pid','path':'proc/1/ns/pid'}]",
			    "`config.json`: linux.namespaces[0].path: must be an absolute path");
}

TEST(oci_config_id_mappings)
{
	check_linux_refused("'uidMappings':[{'containerID':0,'hostID':1}]",
			    "`config.json`: linux.uidMappings[0].size: is required");
	check_linux_refused(
	    "'gidMappings':[{'containerID':0,'hostID':-1,'size':1}]",
	    "`config.json`: linux.gidMappings[0].hostID: `-1` is out of range (0 to "
	    "4294967295)");
}

TEST(oci_config_devices)
{
	check_linux_refused(
	    "'devices':[{'path':'/dev/x','type':'x','major':1,'minor':1}]",
	    "`config.json`: linux.devices[0].type: `x` is not a device type (c, b, u, "
	    "p)");
	check_linux_refused("'devices':[{'path':'/dev/x','major':1,'minor':1}]",
			    "`config.json`: linux.devices[0].type: is required");
	check_linux_refused("'devices':[{'type':'c','major':1,'minor':1}]",
			    "`config.json`: linux.devices[0].path: is required");
	check_linux_refused("'devices':[{'path':'/dev/x','type':'b','major':8}]",
			    "`config.json`: linux.devices[0].minor: is required for type `b`");
	check_linux_refused("'devices':[{'path':'/dev/x','type':'u','minor':8}]",
			    "`config.json`: linux.devices[0].major: is required for type `u`");
	check_linux_refused("'devices':[{'path':'/dev/x','type':'c','major':1,'minor':1,"
			    "'fileMode':-1}]",
			    "`config.json`: linux.devices[0].fileMode: `-1` is out of range (0 to "
			    "4294967295)");
}

TEST(oci_config_resources)
{
	check_linux_refused("'resources':{'devices':[{'access':'rwm'}]}",
			    "`config.json`: linux.resources.devices[0].allow: is required");
	check_linux_refused(
	    "'resources':{'devices':[{'allow':true,'access':'rwx'}]}",
	    "`config.json`: linux.resources.devices[0].access: `rwx` is not made of "
	    "r, w and m");
	check_linux_refused(
	    "'resources':{'devices':[{'allow':true,'type':'p'}]}",
	    "`config.json`: linux.resources.devices[0].type: `p` is not a device type "
	    "(a, c, b)");
	check_linux_refused("'resources':{'devices':[{'allow':true,'major':-2}]}",
			    "`config.json`: linux.resources.devices[0].major: `-2` is out of range "
			    "(-1 to 9223372036854775807)");
	check_linux_refused("'resources':{'cpu':{'shares':-1}}",
			    "`config.json`: linux.resources.cpu.shares: `-1` is out of range (0 to "
			    "18446744073709551615)");
	check_linux_refused("'resources':{'cpu':{'cpus':0}}",
			    "`config.json`: linux.resources.cpu.cpus: expected a string");
	check_linux_refused("'resources':{'pids':{'limit':'max'}}",
			    "`config.json`: linux.resources.pids.limit: expected an integer");
	check_linux_refused("'resources':[]", "`config.json`: linux.resources: expected an object");
}

/* cgroup v2 files by name, in document order; the values are the
 * kernel's to judge, the names runtime/cgroup.c's. */
TEST(oci_config_resources_unified)
{
	struct oci_config *c =
	    parse_ok("{'ociVersion':'1.1.0','linux':{'resources':{'unified':{'memory.high':'1G',"
		     "'io.max':'8:0 rbps=1\\n8:16 wbps=2','../x':''}}}}");
	const struct oci_map *u = &c->linux_->resources.unified;

	CHECK_INT(u->n, ==, 3);
	CHECK_STR(u->keys[0], "memory.high");
	CHECK_STR(u->values[0], "1G");
	CHECK_STR(u->keys[1], "io.max");
	CHECK_STR(u->values[1], "8:0 rbps=1\n8:16 wbps=2");
	CHECK_STR(u->keys[2], "../x");
	CHECK_STR(u->values[2], "");
	oci_config_free(c);
	c = parse_ok("{'ociVersion':'1.1.0','linux':{'resources':{'unified':{}}}}");
	CHECK_INT(c->linux_->resources.unified.n, ==, 0);
	oci_config_free(c);
	check_linux_refused("'resources':{'unified':{'memory.max':1}}",
			    "`config.json`: linux.resources.unified.memory.max: expected a string");
	check_linux_refused("'resources':{'unified':['memory.max']}",
			    "`config.json`: linux.resources.unified: expected an object");
}

TEST(oci_config_seccomp)
{
	check_linux_refused("'seccomp':{'syscalls':[]}",
			    "`config.json`: linux.seccomp.defaultAction: is required");
	check_linux_refused("'seccomp':{'defaultAction':'SCMP_ACT_NOPE'}",
			    "`config.json`: linux.seccomp.defaultAction: `SCMP_ACT_NOPE` is not a "
			    "seccomp action (SCMP_ACT_ALLOW, SCMP_ACT_ERRNO...)");
	check_linux_refused(
	    "'seccomp':{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':[],"
	    "'action':'SCMP_ACT_ERRNO'}]}",
	    "`config.json`: linux.seccomp.syscalls[0].names: must have at least one "
	    "entry");
	check_linux_refused("'seccomp':{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'action':"
			    "'SCMP_ACT_ERRNO'}]}",
			    "`config.json`: linux.seccomp.syscalls[0].names: is required");
	check_linux_refused("'seccomp':{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':"
			    "['read']}]}",
			    "`config.json`: linux.seccomp.syscalls[0].action: is required");
	check_linux_refused("'seccomp':{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':"
			    "['read'],'action':'SCMP_ACT_ERRNO','args':[{'index':6,'value':1,"
			    "'op':'SCMP_CMP_EQ'}]}]}",
			    "`config.json`: linux.seccomp.syscalls[0].args[0].index: `6` is out of "
			    "range (0 to 5)");
	check_linux_refused("'seccomp':{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':"
			    "['read'],'action':'SCMP_ACT_ERRNO','args':[{'index':0,'value':1,"
			    "'op':'EQ'}]}]}",
			    "`config.json`: linux.seccomp.syscalls[0].args[0].op: `EQ` is not a "
			    "seccomp operator (SCMP_CMP_EQ, SCMP_CMP_MASKED_EQ...)");
	check_linux_refused("'seccomp':{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':"
			    "['read'],'action':'SCMP_ACT_ERRNO','args':[{'index':0,'op':"
			    "'SCMP_CMP_EQ'}]}]}",
			    "`config.json`: linux.seccomp.syscalls[0].args[0].value: is required");
	check_linux_refused("'seccomp':{'defaultAction':'SCMP_ACT_ALLOW','syscalls':[{'names':"
			    "['read'],'action':'SCMP_ACT_ERRNO','args':[{'index':0,'value':1.0,"
			    "'op':'SCMP_CMP_EQ'}]}]}",
			    "`config.json`: linux.seccomp.syscalls[0].args[0].value: expected an "
			    "integer");
}

TEST(oci_config_linux_misc)
{
	check_linux_refused("'rootfsPropagation':'weird'",
			    "`config.json`: linux.rootfsPropagation: `weird` is not a propagation "
			    "(private, shared, slave, unbindable)");
	check_linux_refused("'sysctl':{'a':1}", "`config.json`: linux.sysctl.a: expected a string");
	check_linux_refused("'maskedPaths':'/proc'",
			    "`config.json`: linux.maskedPaths: expected an array");
	check_refused("{'ociVersion':'1.0.0','linux':true}",
		      "`config.json`: linux: expected an object");
	check_refused("{'ociVersion':'1.0.0','annotations':[]}",
		      "`config.json`: annotations: expected an object");
}

/* ---- oci_process_parse ---- */

static const char process_json[] =
    "{'terminal':true,'user':{'uid':5,'gid':6},'args':['/bin/ls','-l'],'env':['A=b'],"
    "'cwd':'/tmp','capabilities':{'bounding':['CAP_KILL']},'rlimits':[{'type':'RLIMIT_NPROC',"
    "'soft':10,'hard':20}],'noNewPrivileges':true,'oomScoreAdj':5,'consoleSize':{'height':1,"
    "'width':2}}";

static void check_process(const struct oci_process *p)
{
	CHECK(p->terminal);
	CHECK_INT(p->user.uid, ==, 5);
	CHECK_INT(p->user.gid, ==, 6);
	CHECK_INT(p->args.n, ==, 2);
	CHECK_STR(p->args.v[1], "-l");
	CHECK_STR(p->env.v[0], "A=b");
	CHECK_STR(p->cwd, "/tmp");
	CHECK_STR(p->capabilities.bounding.v[0], "CAP_KILL");
	CHECK_STR(p->rlimits[0].type, "RLIMIT_NPROC");
	CHECK_INT(p->rlimits[0].hard, ==, 20);
	CHECK(p->no_new_privileges);
	CHECK(p->has_oom_score_adj && p->oom_score_adj == 5);
	CHECK(p->has_console_size && p->console_height == 1 && p->console_width == 2);
}

TEST(oci_process_parse_and_round_trip)
{
	cleanup_free char *json = q(process_json), *out = NULL;
	struct oci_process *p = NULL, *back = NULL;
	mv_error_t err = {0};
	size_t len;

	CHECK_INT(oci_process_parse(json, strlen(json), "process.json", &p, &err), ==, 0);
	check_process(p);
	CHECK_INT(oci_process_to_json(p, &out, &len, &err), ==, 0);
	CHECK_INT(oci_process_parse(out, len, "process.json", &back, &err), ==, 0);
	check_process(back);
	oci_process_free(p);
	oci_process_free(back);
}

static void check_process_parse_refused(const char *text, const char *msg)
{
	cleanup_free char *json = q(text);
	struct oci_process *p = NULL;
	mv_error_t err = {0};

	CHECK_INT(oci_process_parse(json, strlen(json), "process.json", &p, &err), ==, -1);
	CHECK(p == NULL);
	CHECK_INT(err.err, ==, EINVAL);
	CHECK_STR(err.msg, msg);
	mv_error_release(&err);
}

TEST(oci_process_parse_errors)
{
	check_process_parse_refused("{'args':[1],'cwd':'/'}",
				    "`process.json`: args[0]: expected a string");
	check_process_parse_refused("{'args':['a'],'cwd':'x'}",
				    "`process.json`: cwd: must be an absolute path");
	check_process_parse_refused("{'cwd':'/'}", "`process.json`: args: is required");
	check_process_parse_refused("[]", "`process.json`: expected an object");
	check_process_parse_refused("{'args':['a'],'cwd':'/',",
				    "`process.json`: invalid JSON: parse error: premature EOF");
	check_process_parse_refused(
	    "{'args':['a'],'cwd':'/','user':{'uid':-5}}",
	    "`process.json`: user.uid: `-5` is out of range (0 to 4294967295)");
}

/* ---- oci_config_load ---- */

static char *write_temp(const char *data, size_t len)
{
	char *path = strdup("/tmp/test_oci_config.XXXXXX");
	int fd = mkostemp(path, O_CLOEXEC);

	CHECK(fd >= 0);
	CHECK(write(fd, data, len) == (ssize_t)len);
	close(fd);
	return path;
}

TEST(oci_config_load_file)
{
	cleanup_free char *json = q(full_config);
	cleanup_free char *path = write_temp(json, strlen(json));
	struct oci_config *c = NULL;
	mv_error_t err = {0};
	int fds = unit_count_fds();

	CHECK_INT(oci_config_load(path, &c, &err), ==, 0);
	check_full(c);
	oci_config_free(c);
	CHECK_INT(unit_count_fds(), ==, fds);
	unlink(path);
}

TEST(oci_config_load_errors_name_the_file)
{
	cleanup_free char *json = q("{'ociVersion':'1.0.0','process':{'args':['a'],'cwd':'.'}}");
	cleanup_free char *path = write_temp(json, strlen(json));
	cleanup_free char *expected = NULL;
	struct oci_config *c = NULL;
	mv_error_t err = {0};

	CHECK_INT(oci_config_load("/nonexistent/config.json", &c, &err), ==, -1);
	CHECK_INT(err.err, ==, ENOENT);
	CHECK_STR(err.msg, "open `/nonexistent/config.json`");
	mv_error_release(&err);

	CHECK_INT(oci_config_load(path, &c, &err), ==, -1);
	CHECK(asprintf(&expected, "`%s`: process.cwd: must be an absolute path", path) > 0);
	CHECK_STR(err.msg, expected);
	mv_error_release(&err);
	unlink(path);
}

TEST(oci_config_load_too_large)
{
	size_t len = OCI_CONFIG_MAX_SIZE + 100;
	cleanup_free char *data = malloc(len);
	cleanup_free char *path = NULL;
	cleanup_free char *expected = NULL;
	struct oci_config *c = NULL;
	mv_error_t err = {0};

	memset(data, ' ', len);
	path = write_temp(data, len);
	CHECK_INT(oci_config_load(path, &c, &err), ==, -1);
	CHECK(asprintf(&expected, "`%s`: larger than 4 MiB", path) > 0);
	CHECK_STR(err.msg, expected);
	CHECK(c == NULL);
	mv_error_release(&err);
	unlink(path);
}

TEST(oci_config_load_directory)
{
	struct oci_config *c = NULL;
	mv_error_t err = {0};

	CHECK_INT(oci_config_load("/tmp", &c, &err), ==, -1);
	CHECK_INT(err.err, ==, EISDIR);
	CHECK_STR(err.msg, "read `/tmp`");
	mv_error_release(&err);
}

/* ---- messages stay short and on one line ---- */

TEST(oci_config_message_quotes_at_most_64_bytes)
{
	char type[2000];
	cleanup_free char *text = NULL;

	memset(type, 'x', sizeof(type) - 1);
	type[sizeof(type) - 1] = '\0';
	CHECK(asprintf(&text, "'namespaces':[{'type':'%s'}]", type) > 0);
	type[64] = '\0';
	cleanup_free char *msg = NULL;
	CHECK(
	    asprintf(&msg,
		     "`config.json`: linux.namespaces[0].type: `%s` is not a namespace type (pid, "
		     "network, mount, ipc, uts, user, cgroup, time)",
		     type) > 0);
	check_linux_refused(text, msg);
}

TEST(oci_config_message_has_no_control_characters)
{
	check_linux_refused(
	    "'namespaces':[{'type':'a\\nb\\u001b[31m'}]",
	    "`config.json`: linux.namespaces[0].type: `a?b?[31m` is not a namespace "
	    "type (pid, network, mount, ipc, uts, user, cgroup, time)");
	check_refused("{'ociVersion':'1.0.0','annotations':{'a\\nb':5}}",
		      "`config.json`: annotations.a?b: expected a string");
}
