from tests.conftest import TenantContext


def test_tenant_admin_sees_its_default_profile(tenant: TenantContext) -> None:
    profile = tenant.api.get(f"/api/deviceProfile/{tenant.default_profile_id}")
    assert profile["default"] is True
    assert profile["name"] == "default"
