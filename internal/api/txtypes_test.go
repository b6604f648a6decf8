package api

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/cairn-db/cairn/types"
)

// The OpenAPI document's transaction type enum is exactly the registered
// types, in registry order.
func TestOpenAPITxTypes(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas struct {
				Tx struct {
					Properties struct {
						Type struct {
							Enum []string `json:"enum"`
						} `json:"type"`
					} `json:"properties"`
				} `json:"Tx"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	got, want := doc.Components.Schemas.Tx.Properties.Type.Enum, types.TxTypeNames()
	if !slices.Equal(got, want) {
		t.Errorf("openapi.json components.schemas.Tx.properties.type.enum = %q, want the registered types %q", got, want)
	}
}
