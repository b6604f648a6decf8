package api

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/cairn-db/cairn/types"
)

// The OpenAPI document knows every registered transaction type, in registry
// order: the common fields' type enum, one oneOf branch per type, and the
// discriminator's mapping from each name to that branch.
func TestOpenAPITxTypes(t *testing.T) {
	type typeProp struct {
		Enum  []string `json:"enum"`
		Const string   `json:"const"`
	}
	type schema struct {
		OneOf []struct {
			Ref string `json:"$ref"`
		} `json:"oneOf"`
		AllOf []struct {
			Ref        string              `json:"$ref"`
			Properties map[string]typeProp `json:"properties"`
		} `json:"allOf"`
		Properties    map[string]typeProp `json:"properties"`
		Discriminator struct {
			PropertyName string            `json:"propertyName"`
			Mapping      map[string]string `json:"mapping"`
		} `json:"discriminator"`
	}
	var doc struct {
		Components struct {
			Schemas map[string]schema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	schemas := doc.Components.Schemas
	want := types.TxTypeNames()
	if got := schemas["TxFields"].Properties["type"].Enum; !slices.Equal(got, want) {
		t.Errorf("openapi.json components.schemas.TxFields.properties.type.enum = %q, want the registered types %q", got, want)
	}
	tx := schemas["Tx"]
	if tx.Discriminator.PropertyName != "type" {
		t.Errorf("Tx discriminator is on %q, want type", tx.Discriminator.PropertyName)
	}
	if len(tx.OneOf) != len(want) || len(tx.Discriminator.Mapping) != len(want) {
		t.Errorf("Tx has %d oneOf branches and %d discriminator mappings, want one per registered type (%d)",
			len(tx.OneOf), len(tx.Discriminator.Mapping), len(want))
	}
	for i, name := range want {
		ref, ok := tx.Discriminator.Mapping[name]
		if !ok {
			t.Errorf("type %s: no discriminator mapping in Tx", name)
			continue
		}
		if i < len(tx.OneOf) && tx.OneOf[i].Ref != ref {
			t.Errorf("type %s: oneOf branch %d is %s, the mapping names %s", name, i, tx.OneOf[i].Ref, ref)
		}
		branch, ok := schemas[ref[len("#/components/schemas/"):]]
		if !ok {
			t.Errorf("type %s: mapping names %s, which is not a schema", name, ref)
			continue
		}
		pinned := branch.Properties["type"].Const
		for _, part := range branch.AllOf {
			if c := part.Properties["type"].Const; c != "" {
				pinned = c
			}
		}
		if pinned != name {
			t.Errorf("type %s: branch %s pins type to %q", name, ref, pinned)
		}
	}
}
