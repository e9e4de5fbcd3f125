"""Tenants and customers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .body import json_body, page_request, paging, parse_uuid
from .forms import customer_form, tenant_form
from .routing import Operation, principal, services
from .views import customer_json, page_json, tenant_json


async def save_tenant(request: Request) -> Response:
    form = tenant_form(await json_body(request))
    return JSONResponse(
        tenant_json(await services(request).tenants.save(await principal(request), form))
    )


async def get_tenant(request: Request) -> Response:
    tenant_id = parse_uuid(request.path_params["tenantId"])
    tenant = await services(request).tenants.get(await principal(request), tenant_id)
    return JSONResponse(tenant_json(tenant))


async def list_tenants(request: Request) -> Response:
    page = await services(request).tenants.page(await principal(request), page_request(request))
    return JSONResponse(page_json(page, tenant_json))


async def delete_tenant(request: Request) -> Response:
    tenant_id = parse_uuid(request.path_params["tenantId"])
    await services(request).tenants.delete(await principal(request), tenant_id)
    return Response(status_code=200)


async def save_customer(request: Request) -> Response:
    form = customer_form(await json_body(request))
    customer = await services(request).customers.save(await principal(request), form)
    return JSONResponse(customer_json(customer))


async def get_customer(request: Request) -> Response:
    customer_id = parse_uuid(request.path_params["customerId"])
    customer = await services(request).customers.get(await principal(request), customer_id)
    return JSONResponse(customer_json(customer))


async def list_customers(request: Request) -> Response:
    page = await services(request).customers.page(await principal(request), page_request(request))
    return JSONResponse(page_json(page, customer_json))


async def delete_customer(request: Request) -> Response:
    customer_id = parse_uuid(request.path_params["customerId"])
    await services(request).customers.delete(await principal(request), customer_id)
    return Response(status_code=200)


TITLE_PAGING = paging(("createdTime", "title"), "title")
OPERATIONS = [
    Operation(
        "POST",
        "/api/tenant",
        save_tenant,
        "Create or update a tenant",
        "Tenants",
        body="TenantRequest",
        response="Tenant",
    ),
    Operation(
        "GET", "/api/tenant/{tenantId}", get_tenant, "A tenant", "Tenants", response="Tenant"
    ),
    Operation(
        "GET",
        "/api/tenants",
        list_tenants,
        "Tenants, a page at a time",
        "Tenants",
        query=TITLE_PAGING,
        response="PageDataTenant",
    ),
    Operation(
        "DELETE",
        "/api/tenant/{tenantId}",
        delete_tenant,
        "Delete a tenant with all its entities and package data",
        "Tenants",
    ),
    Operation(
        "POST",
        "/api/customer",
        save_customer,
        "Create or update a customer",
        "Customers",
        body="CustomerRequest",
        response="Customer",
    ),
    Operation(
        "GET",
        "/api/customer/{customerId}",
        get_customer,
        "A customer",
        "Customers",
        response="Customer",
    ),
    Operation(
        "GET",
        "/api/customers",
        list_customers,
        "Customers of the tenant",
        "Customers",
        query=TITLE_PAGING,
        response="PageDataCustomer",
    ),
    Operation(
        "DELETE",
        "/api/customer/{customerId}",
        delete_customer,
        "Delete a customer; its devices return to the tenant",
        "Customers",
    ),
]
