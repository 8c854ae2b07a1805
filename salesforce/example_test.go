package salesforce_test

import (
	"fmt"

	"github.com/triage-dev/triage/salesforce"
)

func ExampleQuoteSOQL() {
	fmt.Println("SELECT Id FROM Contact WHERE LastName = " + salesforce.QuoteSOQL(`O'Brien`))
	fmt.Println("SELECT Id FROM Account WHERE Name LIKE " + salesforce.LikeContains("50%_off"))
	// Output:
	// SELECT Id FROM Contact WHERE LastName = 'O\'Brien'
	// SELECT Id FROM Account WHERE Name LIKE '%50\%\_off%'
}

func ExampleBuildSOQL() {
	q, err := salesforce.BuildSOQL("SELECT Id FROM Case WHERE ContactId = ? AND Status IN ? LIMIT ?",
		"003R000000DDMlTIAX", []string{"New", "Working"}, 5)
	fmt.Println(q, err)
	// Output:
	// SELECT Id FROM Case WHERE ContactId = '003R000000DDMlTIAX' AND Status IN ('New','Working') LIMIT 5 <nil>
}

func ExampleNewComposite() {
	req := salesforce.NewComposite(true)
	cs := req.Upsert("case", "Case", "Triage_Key__c", "thr-7f3a", map[string]any{"Subject": "Printer on fire"})
	req.Create("email", "EmailMessage", map[string]any{"ParentId": cs.ID(), "Subject": "Printer on fire", "Incoming": true})
	fmt.Println(req.Len(), req.Err())

	bad := salesforce.NewComposite(true)
	bad.Create("email", "EmailMessage", map[string]any{"ParentId": salesforce.Ref("case").ID()})
	fmt.Println(bad.Err())
	// Output:
	// 2 <nil>
	// salesforce: invalid composite request: subrequest "email" references "case", which is not an earlier subrequest
}
