// gotmpl executes an istiod gateway template the way istiod's deployment controller does:
// Go's text/template, with every function name istiod registers (sprig's TxtFuncMap, then
// istio's InjectionFuncmap over it), and an input struct with the fields of istiod's
// TemplateInput, so a misspelt field or an unknown function fails here as it would there.
//
// Functions the appnet templates call are implemented with the semantics of the
// originals; any other registered name fails when called, so a template that starts using
// one needs it implemented here first.
//
// Usage: gotmpl < request.json, where request is {"template": TEXT, "input": INPUT}.
// Exit 2: the template does not parse; 1: it does not execute; 0: output on stdout.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"text/template"
)

type ObjectMeta struct {
	Name        string
	Namespace   string
	UID         string
	Labels      map[string]string
	Annotations map[string]string
}

type GatewayAddress struct {
	Type  *string
	Value string
}

type Listener struct {
	Name     string
	Port     int32
	Protocol string
}

type GatewaySpec struct {
	GatewayClassName string
	Addresses        []GatewayAddress
	Listeners        []Listener
}

type Gateway struct {
	ObjectMeta
	Spec GatewaySpec
}

type ServicePort struct {
	Name        string
	Port        int32
	Protocol    string
	AppProtocol *string
}

type ProxyConfig struct {
	DiscoveryAddress string            `json:"discoveryAddress"`
	ProxyMetadata    map[string]string `json:"proxyMetadata"`
}

type MeshConfig struct {
	TrustDomain string
}

type Input struct {
	*Gateway
	GatewayClass              string
	DeploymentName            string
	ServiceAccount            string
	Ports                     []ServicePort
	ServiceType               string
	ClusterID                 string
	KubeVersion               int
	Revision                  string
	NativeSidecars            bool
	ProxyUID                  int64
	ProxyGID                  int64
	CompliancePolicy          string
	InfrastructureLabels      map[string]string
	InfrastructureAnnotations map[string]string
	GatewayNameLabel          string
	IsEastWestGateway         bool
	ControllerLabel           string
	ProxyImage                string
	ProxyConfig               *ProxyConfig
	MeshConfig                *MeshConfig
	Values                    map[string]any
}

// sprig v3 TxtFuncMap names (functions.go of Masterminds/sprig).
var sprigNames = strings.Fields(`abbrev abbrevboth add add1 add1f addf adler32sum ago all any
append atoi b32dec b32enc b64dec b64enc base bcrypt biggest buildCustomCert camelcase cat ceil
chunk clean coalesce compact concat contains date dateInZone dateModify decryptAES deepCopy
deepEqual default derivePassword dict dig dir div divf duration durationRound empty
encryptAES env expandenv ext fail first float64 floor fromJson genCA genCAWithKey
genPrivateKey genSelfSignedCert genSelfSignedCertWithKey genSignedCert genSignedCertWithKey
get getHostByName has hasKey hasPrefix hasSuffix htmlDate htmlDateInZone htpasswd indent
initial initials int int64 isAbs join kebabcase keys kindIs kindOf last list lower max maxf
merge mergeOverwrite min minf mod mul mulf mustAppend mustChunk mustCompact mustDateModify
mustDeepCopy mustFirst mustFromJson mustHas mustInitial mustLast mustMerge
mustMergeOverwrite mustPrepend mustRegexFind mustRegexFindAll mustRegexMatch
mustRegexReplaceAll mustRegexReplaceAllLiteral mustRegexSplit mustRest mustReverse
mustSlice mustToDate mustToJson mustToPrettyJson mustToRawJson mustUniq mustWithout nindent
nospace now omit osBase osClean osDir osExt osIsAbs pick pluck plural prepend quote
randAlpha randAlphaNum randAscii randBytes randInt randNumeric regexFind regexFindAll
regexMatch regexQuoteMeta regexReplaceAll regexReplaceAllLiteral regexSplit repeat replace
rest reverse round semver semverCompare seq set sha1sum sha256sum sha512sum shuffle slice
snakecase sortAlpha split splitList splitn squote sub subf substr swapcase ternary title
toDate toDecimal toJson toPrettyJson toRawJson toString toStrings trim trimAll trimPrefix
trimSuffix trimall trunc tuple typeIs typeIsLike typeOf uniq unixEpoch unset until
untilStep untitle upper urlJoin urlParse uuidv4 values without wrap wrapWith`)

// istio's InjectionFuncmap names (pkg/kube/inject/template.go).
var istioNames = strings.Fields(`formatDuration isset excludeInboundPort includeInboundPorts
kubevirtInterfaces excludeInterfaces applicationPorts annotation valueOrDefault toJSON
fromJSON structToJSON protoToJSON toYaml indent directory contains toLower
appendMultusNetwork env omit strdict toJsonMap mergeMaps omitNil`)

func empty(v any) bool {
	if v == nil {
		return true
	}
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return r.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return r.IsNil()
	}
	return r.IsZero()
}

func marshal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func implemented() template.FuncMap {
	return template.FuncMap{
		// sprig: default returns the given default when the value is empty.
		"default": func(d any, given ...any) any {
			if len(given) == 0 || empty(given[0]) {
				return d
			}
			return given[0]
		},
		"quote": func(values ...any) string {
			out := make([]string, 0, len(values))
			for _, v := range values {
				if v != nil {
					out = append(out, fmt.Sprintf("%q", fmt.Sprint(v)))
				}
			}
			return strings.Join(out, " ")
		},
		"toJson": marshal,
		// istio
		"valueOrDefault": func(value, def any) any {
			if value == nil || value == "" {
				return def
			}
			return value
		},
		"strdict": func(kv ...string) map[string]string {
			m := map[string]string{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i]] = kv[i+1]
			}
			return m
		},
		"omit": func(m map[string]string, keys ...string) map[string]string {
			out := map[string]string{}
			for k, v := range m {
				out[k] = v
			}
			for _, k := range keys {
				delete(out, k)
			}
			return out
		},
		"toJsonMap": func(maps ...map[string]string) string {
			merged := map[string]string{}
			for _, m := range maps {
				for k, v := range m {
					merged[k] = v
				}
			}
			return marshal(merged)
		},
		"protoToJSON": func(v any) string { return marshal(v) },
	}
}

func funcs() template.FuncMap {
	fm := template.FuncMap{}
	for _, name := range append(append([]string{}, sprigNames...), istioNames...) {
		n := name
		fm[n] = func(args ...any) (any, error) {
			return nil, fmt.Errorf("function %q is not implemented by the test renderer", n)
		}
	}
	for name, fn := range implemented() {
		fm[name] = fn
	}
	return fm
}

func main() {
	var req struct {
		Template string `json:"template"`
		Input    Input  `json:"input"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, "bad request:", err)
		os.Exit(3)
	}
	t, err := template.New("gateway").Funcs(funcs()).Parse(req.Template)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var out strings.Builder
	if err := t.Execute(&out, req.Input); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Print(out.String())
}
